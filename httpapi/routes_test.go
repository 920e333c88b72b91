package httpapi

import (
	"slices"
	"strings"
	"testing"

	"smppbridge/bridge"
)

// TestRoutesListsEveryAuthenticatedEndpoint probes methods and paths around
// the listed routes without credentials: whatever asks for credentials
// (401) must be in Routes(), so the security table in cmd/daemon covers it;
// every listed route must ask for them.
func TestRoutesListsEveryAuthenticatedEndpoint(t *testing.T) {
	// A core with search, so the GET routes exist as in the daemon.
	core := &recordsCore{fakeCore: fakeCore{auth: func(string, string, string) error { return bridge.ErrUnauthorized }}}
	ln := startServer(t, New(core, Options{}))
	paths := []string{"/", "/api/v2", "/api/v2/users/{accountId}", "/users/{accountId}"}
	suffixes := []string{"/messages", "/messages/", "/messages/{messageId}", "/messages/{messageId}/status",
		"/media", "/media/{mediaId}", "/applications", "/callbacks", "/recordings"}
	for _, base := range []string{"/api/v2/users/{accountId}", "/users/{accountId}"} {
		for _, s := range suffixes {
			paths = append(paths, base+s)
		}
	}
	for _, r := range Routes() {
		paths = append(paths, r.Path)
	}
	for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"} {
		for _, path := range paths {
			real := strings.NewReplacer("{accountId}", "9900000", "{messageId}", "m1", "{mediaId}", "f1").Replace(path)
			resp := do(t, ln, rawRequest{method: method, path: real, headers: []string{"Content-Type: application/json"}, body: "{}"})
			listed := slices.Contains(Routes(), Route{method, strings.TrimSuffix(path, "/")})
			switch {
			case resp.StatusCode() == 401 && !listed:
				t.Errorf("%s %s asks for credentials but is not in Routes()", method, path)
			case listed && resp.StatusCode() != 401:
				t.Errorf("%s %s is in Routes() but answers %d without credentials", method, path, resp.StatusCode())
			}
		}
	}
}
