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

// BenchmarkSinkCallbacks is the sink's own work per callback request of
// 10 delivery receipts, without HTTP: scanning the body and the
// bookkeeping of each event.
func BenchmarkSinkCallbacks(b *testing.B) {
	const batches = 1000
	s := &webhookSink{sentAt: map[string]time.Time{}, want: map[string]int{}, early: map[string][]time.Time{},
		byType: map[string]*int{}, seen: map[string]bool{}}
	at := time.Now()
	bodies := make([][]byte, batches)
	for i := range bodies {
		events := make([]bridge.CallbackEvent, 10)
		for j := range events {
			to := fmt.Sprintf("+1555%07d", j)
			events[j] = bridge.CallbackEvent{Type: "message-delivered", Time: at, Description: "ok", To: to,
				Message: bridge.CallbackMessage{ID: fmt.Sprintf("%013d%016d", at.UnixMilli(), i*10+j), Owner: "+15550001111",
					ApplicationID: "93de2206-9669-4e07-948d-329f4b722ee2", Time: at, SegmentCount: 1, Direction: "out",
					To: []string{to}, From: "+15550001111", Tag: "t", HasTag: true}}
		}
		var err error
		if bodies[i], err = bridge.EncodeCallbackEvents(bridge.CallbackStatus, events); err != nil {
			b.Fatal(err)
		}
	}
	ids := make([]string, batches*10)
	for j := range ids {
		ids[j] = fmt.Sprintf("%013d%016d", at.UnixMilli(), j)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%batches == 0 { // a fresh round: every callback is new and owed
			b.StopTimer()
			s.seen, s.lat = make(map[string]bool, len(ids)), s.lat[:0]
			for _, id := range ids {
				s.sent(id, at, 1)
			}
			b.StartTimer()
		}
		if !s.callbacks(bodies[i%batches]) {
			b.Fatal("refused")
		}
		i++
	}
}

// BenchmarkScanEvents is the sink's scan of one callback body of 10
// delivery receipts alone.
func BenchmarkScanEvents(b *testing.B) {
	at := time.Now()
	events := make([]bridge.CallbackEvent, 10)
	for j := range events {
		to := fmt.Sprintf("+1555%07d", j)
		events[j] = bridge.CallbackEvent{Type: "message-delivered", Time: at, Description: "ok", To: to,
			Message: bridge.CallbackMessage{ID: fmt.Sprintf("%013d%016d", at.UnixMilli(), j), Owner: "+15550001111",
				ApplicationID: "93de2206-9669-4e07-948d-329f4b722ee2", Time: at, SegmentCount: 1, Direction: "out",
				To: []string{to}, From: "+15550001111", Tag: "t", HasTag: true}}
	}
	body, err := bridge.EncodeCallbackEvents(bridge.CallbackStatus, events)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := scanEvents(body, func(typ, to, id []byte) { n++ }); err != nil || n != 10 {
			b.Fatalf("%d events, %v", n, err)
		}
	}
}
