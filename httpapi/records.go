package httpapi

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"smppbridge/bridge"
)

// RecordsCore is the message search and MDR export (*bridge.Bridge). A
// Core that also implements it gets GET …/messages and …/messages/mdr.csv.
type RecordsCore interface {
	SearchMessages(ctx context.Context, accountID string, params []bridge.QueryParam) (*bridge.MessagePage, error)
	PrepareMDR(accountID string, params []bridge.QueryParam) (*bridge.MDRExport, error)
}

// queryParams copies the decoded query parameters. fasthttp decodes '+'
// as a space; a number or date-time cannot contain a space, so there it is
// read back as the '+' the client most likely meant (the contract asks
// for %2B, but clients forget).
func queryParams(ctx *fasthttp.RequestCtx) []bridge.QueryParam {
	var ps []bridge.QueryParam
	ctx.QueryArgs().VisitAll(func(k, v []byte) {
		name, val := string(k), string(v)
		switch name {
		case "sourceTn", "destinationTn", "fromDateTime", "toDateTime", "from", "to":
			val = strings.ReplaceAll(val, " ", "+")
		}
		ps = append(ps, bridge.QueryParam{Name: name, Value: val})
	})
	return ps
}

// search handles GET …/users/{accountId}/messages (v2-api.md §4.1).
func (s *Server) search(ctx *fasthttp.RequestCtx, rid string, accountPath []byte, rc RecordsCore) {
	account, ok := s.authorize(ctx, rid, accountPath)
	if !ok {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithValue(s.base, requestIDKey{}, rid), s.opts.WriteTimeout)
	params := queryParams(ctx)
	page, err := rc.SearchMessages(sctx, account, params)
	cancel()
	buf := getBuf()
	defer putBuf(buf)
	if err != nil {
		s.recordsFailed(ctx, rid, buf, err)
		return
	}
	*buf = appendMessagePage((*buf)[:0], page, pageURL(ctx, params, page.NextPageToken), pageURL(ctx, params, page.PrevPageToken))
	writeJSON(ctx, fasthttp.StatusOK, *buf)
}

// mdr handles GET …/users/{accountId}/messages/mdr.csv: the parameters
// are checked first (errors get a JSON body), then the CSV is streamed.
func (s *Server) mdr(ctx *fasthttp.RequestCtx, rid string, accountPath []byte, rc RecordsCore) {
	account, ok := s.authorize(ctx, rid, accountPath)
	if !ok {
		return
	}
	exp, err := rc.PrepareMDR(account, queryParams(ctx))
	if err != nil {
		buf := getBuf()
		defer putBuf(buf)
		s.recordsFailed(ctx, rid, buf, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.SetContentType("text/csv; charset=utf-8")
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="mdr-`+account+`.csv"`)
	log, base := s.log, s.base
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		// Runs after the handler returned: the status is sent, so a failure
		// can only cut the body short (the chunked encoding then has no end).
		// The connection guard bounds each write by WriteTimeout, not the
		// whole export: the timeout bounds a stalled client, not the
		// length of the export.
		bw := bufio.NewWriterSize(w, 32<<10)
		if err := exp.Write(bw); err != nil {
			log.LogAttrs(base, slog.LevelWarn, "MDR export stopped", attrRequestID(rid), attrError(err))
		}
	})
}

func (s *Server) recordsFailed(ctx *fasthttp.RequestCtx, rid string, buf *[]byte, err error) {
	var ve *bridge.ValidationError
	switch {
	case errors.As(err, &ve):
		s.log.LogAttrs(s.base, levelClientError, "search request failed validation", attrRequestID(rid), attrStatus(400))
		*buf = appendValidationBody((*buf)[:0], ve.Description, ve.Fields)
		writeJSON(ctx, fasthttp.StatusBadRequest, *buf)
	case errors.Is(err, context.DeadlineExceeded):
		writeError(ctx, fasthttp.StatusServiceUnavailable, typeUnavailable, "The search could not be completed in time")
	default:
		s.log.LogAttrs(s.base, slog.LevelError, "search failed", attrRequestID(rid), attrError(err))
		writeError(ctx, fasthttp.StatusInternalServerError, typeInternal, "An internal error occurred")
	}
}

// pageURL is the request's own URL with pageToken replaced, its values
// encoded as the contract asks (+ as %2B); "" without a token.
func pageURL(ctx *fasthttp.RequestCtx, params []bridge.QueryParam, token string) string {
	if token == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString("http")
	if ctx.IsTLS() {
		b.WriteString("s")
	}
	b.WriteString("://")
	b.Write(ctx.Host())
	b.Write(ctx.Path())
	sep := byte('?')
	for _, p := range append(params, bridge.QueryParam{Name: "pageToken", Value: token}) {
		if p.Name == "pageToken" && p.Value != token {
			continue
		}
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(url.QueryEscape(p.Name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.Value))
	}
	return b.String()
}

// appendMessagePage renders the search answer (v2-api.md §4.1): numbers as
// JSON numbers, optional fields omitted when unset, pageInfo {} on a
// single page.
func appendMessagePage(dst []byte, p *bridge.MessagePage, nextURL, prevURL string) []byte {
	dst = append(dst, `{"totalCount":`...)
	dst = strconv.AppendInt(dst, int64(p.TotalCount), 10)
	dst = append(dst, `,"pageInfo":{`...)
	sep := false
	field := func(name, v string) {
		if v == "" {
			return
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, `":`...)
		dst = bridge.AppendJSONString(dst, v)
	}
	field("prevPage", prevURL)
	field("nextPage", nextURL)
	field("prevPageToken", p.PrevPageToken)
	field("nextPageToken", p.NextPageToken)
	dst = append(dst, `},"messages":[`...)
	for i := range p.Messages {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendMessageRecord(dst, &p.Messages[i])
	}
	return append(dst, "]}"...)
}

func appendMessageRecord(dst []byte, m *bridge.MessageRecord) []byte {
	str := func(name, v string, always bool) {
		if v == "" && !always {
			return
		}
		dst = append(dst, `,"`...)
		dst = append(dst, name...)
		dst = append(dst, `":`...)
		dst = bridge.AppendJSONString(dst, v)
	}
	num := func(name string, v int) {
		dst = append(dst, `,"`...)
		dst = append(dst, name...)
		dst = append(dst, `":`...)
		dst = strconv.AppendInt(dst, int64(v), 10)
	}
	dst = append(dst, `{"messageId":`...)
	dst = bridge.AppendJSONString(dst, m.MessageID)
	str("accountId", m.AccountID, true)
	str("sourceTn", m.SourceTn, true)
	str("destinationTn", m.DestinationTn, true)
	str("messageStatus", m.MessageStatus, true)
	str("messageDirection", m.MessageDirection, true)
	str("messageType", m.MessageType, true)
	num("segmentCount", m.SegmentCount)
	num("errorCode", m.ErrorCode)
	dst = append(dst, `,"receiveTime":"`...)
	dst = bridge.AppendV2Time(dst, m.ReceiveTime)
	dst = append(dst, '"')
	str("carrierName", m.CarrierName, false)
	if m.MessageSize > 0 {
		num("messageSize", m.MessageSize)
	}
	num("messageLength", m.MessageLength)
	if m.AttachmentCount > 0 {
		num("attachmentCount", m.AttachmentCount)
	}
	if m.RecipientCount > 0 {
		num("recipientCount", m.RecipientCount)
	}
	str("campaignId", m.CampaignID, false)
	str("product", m.Product, false)
	return append(dst, '}')
}
