package main

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"testing"
)

// cannedServer answers every request on a connection with the same 202,
// at the least cost it can, so BenchmarkClient measures mostly the client.
func cannedServer(tb testing.TB, resp []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					length := 0
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
						if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
							length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
						}
					}
					if _, err := br.Discard(length); err != nil {
						return
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkClient: one keep-alive client posting requests as drive does
// and reading the daemon's 202 (headers and body as httpapi sends them).
func BenchmarkClient(b *testing.B) {
	msg := `{"id":"1764244800000abcdefgh12345678","owner":"+15550001111","applicationId":"93de2206-9669-4e07-948d-329f4b722ee2",` +
		`"time":"2026-11-27T12:00:00.000Z","segmentCount":1,"direction":"out","to":["+15550002222"],"from":"+15550001111",` +
		`"text":"Your verification code is 123456","priority":"default"}`
	resp := []byte("HTTP/1.1 202 Accepted\r\nDate: Fri, 27 Nov 2026 12:00:00 GMT\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(msg)) + "\r\nX-Request-Id: 0123456789abcdef\r\n\r\n" + msg)
	addr := cannedServer(b, resp)
	o := options{app: "93de2206-9669-4e07-948d-329f4b722ee2", from: "+15550001111"}
	c := &client{addr: addr}
	defer c.close()
	var reqBody []byte
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		i++
		reqBody, _ = body(reqBody[:0], o, "single", i)
		status, id, err := c.post(addr, "/api/v2/users/9900000/messages", "Basic dXNlcjpwYXNz", reqBody)
		if err != nil || status != 202 || id != "1764244800000abcdefgh12345678" {
			b.Fatalf("status %d id %q err %v", status, id, err)
		}
	}
}
