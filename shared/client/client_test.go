package client

import (
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/oauthscope"
)

func TestSpecValidate(t *testing.T) {
	scopes := oauthscope.Default()
	valid := func() Spec {
		return Spec{Name: "erp", Description: "nightly job", GrantTypes: []string{GrantClientCredentials},
			Scopes: []string{"api"}, RedirectURIs: []string{}}
	}
	cases := []struct {
		name   string
		modify func(*Spec)
		field  string
	}{
		{"valid", func(*Spec) {}, ""},
		{"code flow with redirects", func(s *Spec) {
			s.GrantTypes = []string{GrantAuthorizationCode}
			s.RedirectURIs = []string{"https://app.example.com/cb", "http://localhost:8080/cb"}
		}, ""},
		{"name empty", func(s *Spec) { s.Name = "" }, "name"},
		{"name blank", func(s *Spec) { s.Name = "  \t" }, "name"},
		{"name 200 runes", func(s *Spec) { s.Name = strings.Repeat("é", 200) }, ""},
		{"name 201 runes", func(s *Spec) { s.Name = strings.Repeat("é", 201) }, "name"},
		{"name control char", func(s *Spec) { s.Name = "a\x00b" }, "name"},
		{"description 1001", func(s *Spec) { s.Description = strings.Repeat("d", 1001) }, "description"},
		{"no grant", func(s *Spec) { s.GrantTypes = nil }, "allowedGrantTypes"},
		{"bad grant", func(s *Spec) { s.GrantTypes = []string{"implicit"} }, "allowedGrantTypes"},
		{"duplicate grant", func(s *Spec) { s.GrantTypes = []string{GrantClientCredentials, GrantClientCredentials} }, "allowedGrantTypes"},
		{"unknown scope", func(s *Spec) { s.Scopes = []string{"openid"} }, "allowedScopes"},
		{"duplicate scope", func(s *Spec) { s.Scopes = []string{"api", "api"} }, "allowedScopes"},
		{"no scopes is allowed", func(s *Spec) { s.Scopes = []string{} }, ""},
		{"http redirect", func(s *Spec) { s.RedirectURIs = []string{"http://example.com/cb"} }, "redirectUris"},
		{"localhost lookalike", func(s *Spec) { s.RedirectURIs = []string{"http://localhost.evil.com/cb"} }, "redirectUris"},
		{"fragment", func(s *Spec) { s.RedirectURIs = []string{"https://a.example.com/cb#x"} }, "redirectUris"},
		{"relative", func(s *Spec) { s.RedirectURIs = []string{"/cb"} }, "redirectUris"},
		{"code flow without redirect", func(s *Spec) { s.GrantTypes = []string{GrantAuthorizationCode} }, "redirectUris"},
		{"redirect port 65535", func(s *Spec) {
			s.RedirectURIs = []string{"http://localhost:65535/cb", "https://[::1]:8443/cb", "https://a.example.com:1/cb"}
		}, ""},
		{"redirect port too large", func(s *Spec) { s.RedirectURIs = []string{"http://localhost:999999/cb"} }, "redirectUris"},
		{"redirect port 65536", func(s *Spec) { s.RedirectURIs = []string{"https://a.example.com:65536/cb"} }, "redirectUris"},
		{"redirect port 0", func(s *Spec) { s.RedirectURIs = []string{"http://localhost:0/cb"} }, "redirectUris"},
		{"redirect port empty", func(s *Spec) { s.RedirectURIs = []string{"http://localhost:/cb"} }, "redirectUris"},
		{"redirect port leading zero", func(s *Spec) { s.RedirectURIs = []string{"http://localhost:08080/cb"} }, "redirectUris"},
		{"redirect port not digits", func(s *Spec) { s.RedirectURIs = []string{"http://localhost:80a/cb"} }, "redirectUris"},
		{"redirect port signed", func(s *Spec) { s.RedirectURIs = []string{"http://localhost:+80/cb"} }, "redirectUris"},
		{"redirect IPv6 port too large", func(s *Spec) { s.RedirectURIs = []string{"https://[::1]:70000/cb"} }, "redirectUris"},
		{"audience ports", func(s *Spec) {
			s.Audiences = []string{"https://api.example.com:8443", "https://api.example.com:65535/v1", "urn:example:api"}
		}, ""},
		{"audience port too large", func(s *Spec) { s.Audiences = []string{"https://api.example.com:999999"} }, "allowedAudiences"},
		{"audience port 0", func(s *Spec) { s.Audiences = []string{"https://api.example.com:0/"} }, "allowedAudiences"},
		{"audience port empty", func(s *Spec) { s.Audiences = []string{"https://api.example.com:/v1"} }, "allowedAudiences"},
		{"too many redirects", func(s *Spec) {
			for i := 0; i <= MaxRedirectURIs; i++ {
				s.RedirectURIs = append(s.RedirectURIs, "https://a.example.com/"+strings.Repeat("x", i))
			}
		}, "redirectUris"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := valid()
			c.modify(&s)
			errs := s.Validate(scopes, 24*time.Hour)
			if c.field == "" {
				if errs != nil {
					t.Fatalf("unexpected errors %v", errs)
				}
				return
			}
			if len(errs[c.field]) == 0 {
				t.Fatalf("errors %v should name %s", errs, c.field)
			}
		})
	}
}

func TestSubjectID(t *testing.T) {
	c := Client{ID: "0a1b"}
	if c.SubjectID() != "client-0a1b" {
		t.Fatal(c.SubjectID())
	}
}
