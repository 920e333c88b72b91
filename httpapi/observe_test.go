package httpapi

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// TestObserve: every request is reported with its route pattern (never
// its path), status and duration, fasthttp's own rejections included.
func TestObserve(t *testing.T) {
	type seen struct {
		route  string
		status int
	}
	var mu sync.Mutex
	var got []seen
	core := &fakeCore{}
	s := New(core, Options{MaxBodyBytes: 1024, Observe: func(route string, status int, took time.Duration) {
		if took < 0 {
			t.Errorf("negative duration %v", took)
		}
		mu.Lock()
		got = append(got, seen{route, status})
		mu.Unlock()
	}})
	ln := startServer(t, s)
	std := []string{"Authorization: " + basic(testUser, testPass), "Content-Type: application/json"}
	post := "POST /api/v2/users/{accountId}/messages"
	cases := []struct {
		r    rawRequest
		want seen
	}{
		{rawRequest{method: "POST", path: testPath, headers: std, body: goodBody}, seen{post, 202}},
		{rawRequest{method: "POST", path: testPath, headers: std[1:], body: goodBody}, seen{post, 401}},
		{rawRequest{method: "DELETE", path: testPath, headers: std}, seen{"other /api/v2/users/{accountId}/messages", 405}},
		{rawRequest{method: "GET", path: "/nothing/here/12345"}, seen{"other", 404}},
		{rawRequest{method: "POST", path: testPath, headers: std, body: `{"text":"` + strings.Repeat("x", 2000) + `"}`}, seen{"other", 413}},
	}
	for i, c := range cases {
		do(t, ln, c.r)
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n > i {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("request %d not observed", i)
			}
			time.Sleep(time.Millisecond) // the observer runs on the server goroutine; poll, bounded by the deadline
		}
		mu.Lock()
		if got[i] != c.want {
			t.Errorf("request %d observed as %+v, want %+v", i, got[i], c.want)
		}
		mu.Unlock()
	}
}
