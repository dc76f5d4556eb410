package stack

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFunctionsLinkOnlyWhatTheyShare reads each function's dependencies
// from `go list -deps`: a function links its own handler package and no
// other, and every package under shared/ is linked by at least one
// function (shared/ holds exactly what the functions share; the local
// harness lives in local/).
func TestFunctionsLinkOnlyWhatTheyShare(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/machine-iam/machine-iam/"
	list := func(args ...string) []string {
		cmd := exec.Command("go", append([]string{"list"}, args...)...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %v: %v", args, err)
		}
		return strings.Fields(string(out))
	}
	handlers := map[string]string{"token": "tokenapi", "clients": "clientsapi", "secrets": "secretsapi", "policies": "policiesapi",
		"provisioning": "customresource"}
	linked := map[string]bool{}
	for fn, own := range handlers {
		for _, dep := range list("-deps", "./functions/"+fn) {
			rel, ok := strings.CutPrefix(dep, module)
			if !ok {
				continue
			}
			linked[rel] = true
			if !strings.HasPrefix(rel, "shared/") && rel != "functions/"+fn {
				t.Errorf("function %s links %s, outside shared/", fn, rel)
			}
			// The provisioning function works through the HTTP API alone.
			if fn == "provisioning" && (strings.HasPrefix(rel, "shared/store") || strings.HasPrefix(rel, "shared/signer") || rel == "shared/app") {
				t.Errorf("function provisioning links %s", rel)
			}
			for other, pkg := range handlers {
				if other != fn && rel == "shared/"+pkg {
					t.Errorf("function %s links %s, the handler of %s", fn, rel, other)
				}
			}
		}
		if !linked["shared/"+own] {
			t.Errorf("function %s does not link its handler shared/%s", fn, own)
		}
	}
	for _, pkg := range list("./shared/...") {
		rel := strings.TrimPrefix(pkg, module)
		if !linked[rel] {
			t.Errorf("%s is linked by no function: it belongs outside shared/", rel)
		}
	}
	if len(linked) == 0 {
		t.Fatal("go list found nothing")
	}
}
