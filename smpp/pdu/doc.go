// Package pdu is the SMPP 3.4 wire codec shared by the bridge and the simulator.
//
// It is allocation-free on the hot path: Decode fills a caller-owned PDU whose
// byte slices borrow from the frame buffer (valid until that buffer is reused),
// and Append encodes into a caller-owned slice. go-smpp's codec costs ~4-7 µs
// and 36-65 allocations per submit_sm here (about 0.1 µs and none for this
// one), which would cap the whole system; see BENCHMARKS.md.
package pdu
