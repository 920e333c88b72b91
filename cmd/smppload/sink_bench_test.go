package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"smppbridge/bridge"
)

// BenchmarkSink measures the sink's cost per callback request the way the
// daemon sends them: net/http client, keep-alive, batches of 10 delivery
// receipts. The client's share is in the figure too; compare runs, not
// absolute values.
func BenchmarkSink(b *testing.B) {
	s, err := startSink(b.N*10 + 10)
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	at := time.Now()
	bodies := make([][]byte, 1000)
	for i := range bodies {
		events := make([]bridge.CallbackEvent, 10)
		for j := range events {
			id := fmt.Sprintf("%013d%016d", at.UnixMilli(), i*10+j)
			to := fmt.Sprintf("+1555%07d", j)
			events[j] = bridge.CallbackEvent{Type: "message-delivered", Time: at, Description: "ok", To: to,
				Message: bridge.CallbackMessage{ID: id, Owner: "+15550001111", ApplicationID: "93de2206-9669-4e07-948d-329f4b722ee2",
					Time: at, SegmentCount: 1, Direction: "out", To: []string{to}, From: "+15550001111", Tag: "t", HasTag: true}}
			s.sent(id, at, 1)
		}
		if bodies[i], err = bridge.EncodeCallbackEvents(bridge.CallbackStatus, events); err != nil {
			b.Fatal(err)
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	b.SetParallelism(2)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			resp, err := client.Post(s.url+"/status", "application/json; charset=utf-8", bytes.NewReader(bodies[i%len(bodies)]))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 204 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
