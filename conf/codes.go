package conf

import "slices"

// v2ErrorCodes are the 76 V2 messaging error codes of error-codes.tsv, in
// its order. conf imports nothing from the project, so it keeps its own
// copy to refuse a receipt_map code at load time (-check-config);
// cmd/daemon's tests hold it equal to dlrmap's table.
var v2ErrorCodes = []int{
	4001, 4301, 4302, 4303, 4350, 4360, 4401, 4403, 4404, 4405, 4406, 4407, 4408, 4409, 4410, 4411,
	4412, 4420, 4421, 4431, 4432, 4433, 4434, 4435, 4451, 4452, 4470, 4481, 4482, 4492, 4493, 4700,
	4701, 4702, 4711, 4712, 4720, 4721, 4730, 4740, 4750, 4751, 4752, 4753, 4770, 4771, 4772, 4773,
	4774, 4775, 4780, 4781, 4785, 4790, 4791, 4792, 4793, 4795, 5100, 5101, 5106, 5111, 5201, 5211,
	5220, 5231, 5500, 5501, 5999, 5600, 5610, 5620, 5630, 5650, 9902, 9999,
}

// V2ErrorCodes returns the V2 error codes receipt_map entries may use.
func V2ErrorCodes() []int { return slices.Clone(v2ErrorCodes) }

func isV2ErrorCode(c int) bool { return slices.Contains(v2ErrorCodes, c) }
