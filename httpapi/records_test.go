package httpapi

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"smppbridge/bridge"
	"smppbridge/store"
)

// recordsCore adds search to fakeCore; it records the parameters it got.
type recordsCore struct {
	fakeCore
	params []bridge.QueryParam
	page   *bridge.MessagePage
	err    error
}

func (r *recordsCore) SearchMessages(_ context.Context, accountID string, params []bridge.QueryParam) (*bridge.MessagePage, error) {
	r.params = params
	return r.page, r.err
}

func (r *recordsCore) PrepareMDR(accountID string, params []bridge.QueryParam) (*bridge.MDRExport, error) {
	r.params = params
	return nil, &bridge.ValidationError{Description: "Your request could not be accepted", Fields: []bridge.FieldError{{FieldName: "to", Description: "to is required"}}}
}

// TestSearchResponse: the exact body of a search answer — numbers as
// numbers, optional fields omitted, pageInfo with full URLs — and the
// query parameters reaching the core decoded, a raw '+' in a number kept.
func TestSearchResponse(t *testing.T) {
	core := &recordsCore{page: &bridge.MessagePage{TotalCount: 3, NextPageToken: "tok-2", Messages: []bridge.MessageRecord{{
		MessageID: testMsgID, AccountID: testAccount, SourceTn: "+15550001111", DestinationTn: "+15550002222",
		MessageStatus: "DELIVERED", MessageDirection: "OUTBOUND", MessageType: "sms", SegmentCount: 2, ErrorCode: 0,
		ReceiveTime: testTime, CarrierName: "sim", MessageLength: 200, RecipientCount: 1,
	}}}}
	ln := startServer(t, New(core, Options{}))
	resp := do(t, ln, rawRequest{method: "GET", path: testPath + "?destinationTn=+1555&limit=1", headers: []string{"Authorization: " + basic(testUser, testPass)}})
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
	}
	jsonEqual(t, resp.Body(), `{"totalCount":3,"pageInfo":{"nextPage":"http://bridge.test`+testPath+`?destinationTn=%2B1555&limit=1&pageToken=tok-2","nextPageToken":"tok-2"},
		"messages":[{"messageId":"`+testMsgID+`","accountId":"`+testAccount+`","sourceTn":"+15550001111","destinationTn":"+15550002222",
		"messageStatus":"DELIVERED","messageDirection":"OUTBOUND","messageType":"sms","segmentCount":2,"errorCode":0,
		"receiveTime":"2023-11-14T22:13:20.000Z","carrierName":"sim","messageLength":200,"recipientCount":1}]}`)
	if len(core.params) != 2 || core.params[0] != (bridge.QueryParam{Name: "destinationTn", Value: "+1555"}) {
		t.Fatalf("params %+v", core.params)
	}

	core.page = &bridge.MessagePage{}
	resp = do(t, ln, rawRequest{method: "GET", path: "/users/" + testAccount + "/messages?limit=1", headers: []string{"Authorization: " + basic(testUser, testPass)}})
	jsonEqual(t, resp.Body(), `{"totalCount":0,"pageInfo":{},"messages":[]}`)

	core.err = &bridge.ValidationError{Description: "Your request could not be accepted", Fields: []bridge.FieldError{{FieldName: "limit", Description: "bad"}}}
	resp = do(t, ln, rawRequest{method: "GET", path: testPath + "?limit=0", headers: []string{"Authorization: " + basic(testUser, testPass)}})
	if resp.StatusCode() != 400 || !strings.Contains(string(resp.Body()), `"fieldName":"limit"`) {
		t.Fatalf("validation: %d %s", resp.StatusCode(), resp.Body())
	}
	core.err = errors.New("disk on fire")
	if resp = do(t, ln, rawRequest{method: "GET", path: testPath + "?limit=1", headers: []string{"Authorization: " + basic(testUser, testPass)}}); resp.StatusCode() != 500 {
		t.Fatalf("store failure: %d", resp.StatusCode())
	}
	core.err = nil

	if resp = do(t, ln, rawRequest{method: "GET", path: testPath + "?limit=1"}); resp.StatusCode() != 401 {
		t.Fatalf("no credentials: %d", resp.StatusCode())
	}
	if resp = do(t, ln, rawRequest{method: "GET", path: "/api/v2/users/other/messages?limit=1", headers: []string{"Authorization: " + basic(testUser, testPass)}}); resp.StatusCode() != 403 {
		t.Fatalf("other account: %d", resp.StatusCode())
	}
	resp = do(t, ln, rawRequest{method: "DELETE", path: testPath, headers: []string{"Authorization: " + basic(testUser, testPass)}})
	if resp.StatusCode() != 405 || string(resp.Header.Peek("Allow")) != "GET, POST" {
		t.Fatalf("DELETE: %d, Allow %q", resp.StatusCode(), resp.Header.Peek("Allow"))
	}
	resp = do(t, ln, rawRequest{method: "GET", path: testPath + "/mdr.csv?from=x", headers: []string{"Authorization: " + basic(testUser, testPass)}})
	if resp.StatusCode() != 400 || string(resp.Header.ContentType()) != "application/json" {
		t.Fatalf("MDR with bad parameters: %d %s", resp.StatusCode(), resp.Header.ContentType())
	}
}

// slowRecords exports a few records slowly, as a large export over a big
// store would take long.
type slowRecords struct{ delay time.Duration }

func (s slowRecords) SearchRecords(store.RecordQuery) (store.RecordPage, error) {
	return store.RecordPage{}, nil
}

func (s slowRecords) ExportRows(_ string, _, _ time.Time, fn func(*store.ExportRow) error) error {
	for i := 0; i < 6; i++ {
		time.Sleep(s.delay) // a slow store, not synchronisation
		row := store.ExportRowOf(&store.Record{MessageID: "m", AccountID: testAccount, Segments: 1, Status: "DELIVERED", ReceivedAt: testTime})
		if err := fn(&row); err != nil {
			return err
		}
	}
	return nil
}

func (s slowRecords) DeleteRecordsBefore(time.Time, time.Time, int) (int, bool, error) {
	return 0, false, nil
}

type mdrCore struct {
	fakeCore
	exp *bridge.MDRExport
}

func (m *mdrCore) SearchMessages(context.Context, string, []bridge.QueryParam) (*bridge.MessagePage, error) {
	return &bridge.MessagePage{}, nil
}

func (m *mdrCore) PrepareMDR(string, []bridge.QueryParam) (*bridge.MDRExport, error) {
	return m.exp, nil
}

// TestMDRLongerThanWriteTimeout: an export that takes several write
// timeouts still arrives whole (the timeout bounds a stalled client, not
// the export).
func TestMDRLongerThanWriteTimeout(t *testing.T) {
	core := &mdrCore{exp: bridge.NewMDRExport(slowRecords{delay: 100 * time.Millisecond}, testAccount, testTime, testTime.Add(time.Hour))}
	// A real TCP connection: an expired deadline fails the next write
	// there, while the in-memory pipe only fails writes that block.
	srv := New(core, Options{Addr: "127.0.0.1:0", WriteTimeout: 150 * time.Millisecond})
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := rawRequest{method: "GET", path: testPath + "/mdr.csv?from=a&to=b", headers: []string{"Authorization: " + basic(testUser, testPass)}}
	if _, err := c.Write(req.bytes()); err != nil {
		t.Fatal(err)
	}
	var resp fasthttp.Response
	if err := resp.Read(bufio.NewReader(c)); err != nil {
		t.Fatalf("reading the export: %v", err)
	}
	body := string(resp.Body())
	if resp.StatusCode() != 200 || !strings.HasPrefix(string(resp.Header.ContentType()), "text/csv") || strings.Count(body, "\r\n") != 7 {
		t.Fatalf("%d %s:\n%s", resp.StatusCode(), resp.Header.ContentType(), body)
	}
}
