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
	handlers := map[string]string{"token": "endpoints/tokenapi", "clients": "endpoints/clientsapi", "secrets": "endpoints/secretsapi",
		"policies": "endpoints/policiesapi", "provisioning": "provisioning/customresource", "authorizer": "edge/authorizer"}
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
			// The provisioning function and the authorizer work through the
			// HTTP API alone.
			if (fn == "provisioning" || fn == "authorizer") && inGroup(rel, "storage", "signing", "endpoints", "runtime/app") {
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

// groups are the roles shared/ is divided into, one folder each.
var groups = []string{"endpoints", "oauth", "iam", "storage", "signing", "web", "provisioning", "runtime", "edge"}

// inGroup reports whether the package at rel (a path in the module) is in
// one of groups (a group, or a package such as runtime/app).
func inGroup(rel string, groups ...string) bool {
	for _, g := range groups {
		if rel == "shared/"+g || strings.HasPrefix(rel, "shared/"+g+"/") {
			return true
		}
	}
	return false
}

// TestLayersHold reads every production package's imports (go list, tests
// left out) and checks the layering by group: the domain (oauth, iam)
// imports no storage, web plumbing, endpoint, provisioning or wiring;
// storage imports no web plumbing, endpoint or provisioning; provisioning
// imports no storage, signing or endpoint; nothing imports the local
// harness; every package under shared/ sits in one of at most ten groups.
func TestLayersHold(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/machine-iam/machine-iam/"
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []struct {
		from []string
		not  []string
	}{
		{[]string{"oauth", "iam"}, []string{"storage", "web", "endpoints", "provisioning", "runtime/app"}},
		{[]string{"storage"}, []string{"web", "endpoints", "provisioning", "runtime/app"}},
		{[]string{"provisioning"}, []string{"storage", "signing", "endpoints", "runtime/app"}},
		{[]string{"signing"}, []string{"storage", "web", "endpoints", "provisioning", "runtime/app"}},
		// The edge runs in teams' own accounts and modules: it knows the
		// service by its HTTP contract alone.
		{[]string{"edge"}, []string{"oauth", "iam", "storage", "signing", "web", "endpoints", "provisioning", "runtime/app"}},
	}
	if len(groups) > 10 {
		t.Errorf("%d groups under shared/: at most ten, so that the folders read as the architecture", len(groups))
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], module)
		if !ok {
			continue
		}
		checked++
		if strings.HasPrefix(pkg, "shared/") && !inGroup(pkg, groups...) {
			t.Errorf("%s is in no group of shared/ (%v)", pkg, groups)
		}
		for _, imp := range fields[1:] {
			dep, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			// make run's and make example's runners are the harness's own.
			harness := strings.HasPrefix(pkg, "local/") || pkg == "cmd/gateway" || pkg == "cmd/example"
			if strings.HasPrefix(dep, "local/") && !harness {
				t.Errorf("%s imports the local harness %s", pkg, dep)
			}
			for _, rule := range forbidden {
				if inGroup(pkg, rule.from...) && inGroup(dep, rule.not...) {
					t.Errorf("%s imports %s: %v may not import %v", pkg, dep, rule.from, rule.not)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("go list found nothing")
	}
}
