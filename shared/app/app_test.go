package app

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/samtemplate"
)

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := ConfigFromEnv(env(map[string]string{
		"TABLE_NAME": "t", "SIGNING_KEY_ID": "alias/k", "PREVIOUS_SIGNING_KEY_IDS": " a, ,b ",
		"ISSUER_URL": "https://id.example.com/", "TOKEN_LIFETIME_SECONDS": "600",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TableName != "t" || c.SigningKeyID != "alias/k" || len(c.PreviousSigningKeyIDs) != 2 ||
		c.IssuerURL != "https://id.example.com" || c.TokenLifetime != 10*time.Minute {
		t.Fatalf("%+v", c)
	}
	c, err = ConfigFromEnv(env(map[string]string{"TABLE_NAME": "t", "SIGNING_KEY_ID": "k"}))
	if err != nil || c.TokenLifetime != time.Hour || c.IssuerURL != "" {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	for _, bad := range []map[string]string{
		{},
		{"TABLE_NAME": "t"},
		{"TABLE_NAME": "t", "SIGNING_KEY_ID": "k", "TOKEN_LIFETIME_SECONDS": "59"},
		{"TABLE_NAME": "t", "SIGNING_KEY_ID": "k", "TOKEN_LIFETIME_SECONDS": "1h"},
		{"TABLE_NAME": "t", "SIGNING_KEY_ID": "k", "ISSUER_URL": "id.example.com"},
	} {
		if _, err := ConfigFromEnv(env(bad)); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

// TestTemplateRoutesMatchHandlers: every route path template.yaml declares
// for a function is served by that function's handler, and the handler
// serves no path the template does not route to it.
func TestTemplateRoutesMatchHandlers(t *testing.T) {
	tmpl, err := samtemplate.Read(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	deps := NewDeps(Config{TableName: "t", SigningKeyID: "k", TokenLifetime: time.Hour}, nil, nil)
	if got := tmpl.Functions(); len(got) != len(Functions) {
		t.Fatalf("template functions %v, constructors for %d", got, len(Functions))
	}
	for _, fn := range tmpl.Functions() {
		build, ok := Functions[fn]
		if !ok {
			t.Errorf("%s has no constructor", fn)
			continue
		}
		h := build(deps)
		var declared []string
		for _, r := range tmpl.Routes(fn) {
			if r.Method != "ANY" {
				t.Errorf("%s %s: declare each path once with ANY so the function answers 405", fn, r.Path)
			}
			declared = append(declared, r.Path)
			// A method no route serves reaches the handler as 405 with Allow,
			// never 404: the path is served.
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("TRACE", strings.NewReplacer("{", "", "}", "").Replace(r.Path), nil))
			if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") == "" {
				t.Errorf("%s does not serve %s: %d", fn, r.Path, w.Code)
			}
		}
		slices.Sort(declared)
		served := slices.Sorted(slices.Values(h.Paths))
		if !slices.Equal(declared, served) {
			t.Errorf("%s: template routes %v, handler serves %v", fn, declared, served)
		}
	}
}
