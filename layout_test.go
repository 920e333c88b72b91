package smppbridge_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "smppbridge"

// allowedImports is the dependency direction of DEVELOPERS.md: which other
// top-level packages each top-level package may import. A package may always
// import its own subpackages. cmd may import everything.
var allowedImports = map[string][]string{
	"cmd":         {"*"},
	"httpapi":     {"bridge"},
	"bridge":      {"smpp", "store", "dlrmap"},
	"smpp":        {},
	"dlrmap":      {},
	"store":       {},
	"conf":        {},
	"testharness": {"smpp"},
}

// confinedModules keeps third-party types inside their owning package:
// module path prefix -> top-level packages allowed to import it ("" = none
// outside tests).
var confinedModules = map[string][]string{
	"github.com/valyala/fasthttp": {"httpapi"},
	"go.etcd.io/bbolt":            {"store"},
	"github.com/BurntSushi/toml":  {"conf", "cmd"},
	"github.com/fiorix/go-smpp":   {}, // an independent second implementation, for tests only
	// Metrics types stay in cmd: core packages expose Stats() and observer hooks.
	"github.com/prometheus/client_golang": {"cmd"},
	"github.com/prometheus/common":        {"cmd"},
	"github.com/prometheus/client_model":  {"cmd"},
}

type pkgInfo struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func topLevel(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return "", false
	}
	top, _, _ := strings.Cut(rest, "/")
	return top, true
}

// checkLayout returns every violation of the layout rules.
func checkLayout(pkgs []pkgInfo) []string {
	var bad []string
	for _, p := range pkgs {
		top, ok := topLevel(p.ImportPath)
		if !ok {
			if p.ImportPath != module {
				bad = append(bad, fmt.Sprintf("%s: outside the module", p.ImportPath))
			}
			continue
		}
		allowed, known := allowedImports[top]
		if !known {
			bad = append(bad, fmt.Sprintf("%s: %q is not one of the fixed top-level packages", p.ImportPath, top))
			continue
		}
		for _, imp := range p.Imports {
			if it, ok := topLevel(imp); ok {
				if it != top && !contains(allowed, it) && !contains(allowed, "*") {
					bad = append(bad, fmt.Sprintf("%s imports %s: %s may only import %v", p.ImportPath, imp, top, allowed))
				}
				continue
			}
			for mod, owners := range confinedModules {
				if imp == mod || strings.HasPrefix(imp, mod+"/") {
					if !contains(owners, top) {
						bad = append(bad, fmt.Sprintf("%s imports %s: only %v may", p.ImportPath, imp, owners))
					}
				}
			}
		}
		if top != "cmd" && top != "testharness" {
			for _, d := range p.Deps {
				if dt, ok := topLevel(d); ok && dt == "testharness" {
					bad = append(bad, fmt.Sprintf("%s depends on %s: only cmd may use the test harness", p.ImportPath, d))
				}
			}
		}
	}
	return bad
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func listPackages(t *testing.T) []pkgInfo {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json=ImportPath,Imports,Deps", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkgInfo
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkgInfo
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestLayout(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 3 {
		t.Fatalf("go list found only %d packages; the test would prove nothing", len(pkgs))
	}
	for _, v := range checkLayout(pkgs) {
		t.Error(v)
	}
}

// TestLayoutRulesCatchViolations shows that checkLayout is not vacuous.
func TestLayoutRulesCatchViolations(t *testing.T) {
	cases := []struct {
		name string
		pkg  pkgInfo
		want string
	}{
		{"bridge imports testharness", pkgInfo{ImportPath: "smppbridge/bridge", Deps: []string{"smppbridge/testharness/smsc"}}, "only cmd may use the test harness"},
		{"dlrmap imports testharness directly", pkgInfo{ImportPath: "smppbridge/dlrmap", Imports: []string{"smppbridge/testharness"}}, "dlrmap may only import"},
		{"transitive testharness", pkgInfo{ImportPath: "smppbridge/store", Deps: []string{"smppbridge/testharness/smsc"}}, "only cmd may use the test harness"},
		{"smpp imports bridge", pkgInfo{ImportPath: "smppbridge/smpp", Imports: []string{"smppbridge/bridge"}}, "smpp may only import"},
		{"httpapi skips bridge", pkgInfo{ImportPath: "smppbridge/httpapi", Imports: []string{"smppbridge/store"}}, "httpapi may only import"},
		{"bridge imports conf", pkgInfo{ImportPath: "smppbridge/bridge/x", Imports: []string{"smppbridge/conf"}}, "bridge may only import"},
		{"bbolt outside store", pkgInfo{ImportPath: "smppbridge/bridge", Imports: []string{"go.etcd.io/bbolt"}}, "only [store] may"},
		{"fasthttp outside httpapi", pkgInfo{ImportPath: "smppbridge/bridge", Imports: []string{"github.com/valyala/fasthttp"}}, "only [httpapi] may"},
		{"prometheus in the core", pkgInfo{ImportPath: "smppbridge/bridge", Imports: []string{"github.com/prometheus/client_golang/prometheus"}}, "only [cmd] may"},
		{"go-smpp in production", pkgInfo{ImportPath: "smppbridge/smpp", Imports: []string{"github.com/fiorix/go-smpp/smpp/pdu"}}, "only [] may"},
		{"unknown top level", pkgInfo{ImportPath: "smppbridge/util"}, "not one of the fixed top-level packages"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := checkLayout([]pkgInfo{c.pkg})
			if len(got) != 1 || !strings.Contains(got[0], c.want) {
				t.Fatalf("violations = %q, want one containing %q", got, c.want)
			}
		})
	}
	ok := []pkgInfo{
		{ImportPath: "smppbridge/cmd/smppbridge", Imports: []string{"smppbridge/testharness/smsc", "smppbridge/conf", "github.com/BurntSushi/toml"}},
		{ImportPath: "smppbridge/testharness/smsc", Imports: []string{"smppbridge/smpp/pdu"}},
		{ImportPath: "smppbridge/httpapi", Imports: []string{"smppbridge/bridge", "github.com/valyala/fasthttp"}},
		{ImportPath: "smppbridge/smpp/session", Imports: []string{"smppbridge/smpp/pdu"}},
	}
	if got := checkLayout(ok); len(got) != 0 {
		t.Fatalf("allowed imports reported as violations: %q", got)
	}
}
