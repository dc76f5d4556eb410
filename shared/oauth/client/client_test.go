package client

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/oauth/oauthscope"
)

// specCase changes a valid spec and names the field whose errors it must
// cause ("" for none).
type specCase struct {
	name   string
	modify func(*Spec)
	field  string
}

func runSpecCases(t *testing.T, cases []specCase) {
	t.Helper()
	doc, err := os.ReadFile("../oauthscope/testdata/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	scopes, err := oauthscope.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Spec{Name: "erp", Description: "nightly job", GrantTypes: []string{GrantClientCredentials},
				Scopes: []string{"api"}, RedirectURIs: []string{}}
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

func TestSpecValidate(t *testing.T) {
	cases := []specCase{
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
	}
	runSpecCases(t, cases)
}

// TestSpecValidatePorts: a port, when a URI has one, is 1-65535 without
// leading zeros, in redirect URIs and audiences alike.
func TestSpecValidatePorts(t *testing.T) {
	runSpecCases(t, []specCase{
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
	})
}

// TestSpecValidateTokenSize: claims and audiences are bounded in total, as
// the token's JSON carries them.
func TestSpecValidateTokenSize(t *testing.T) {
	runSpecCases(t, []specCase{
		{"claims at the size bound", func(s *Spec) { s.TokenClaims = claimsOfSize(MaxTokenClaimsSize, "a") }, ""},
		{"claims past the size bound", func(s *Spec) { s.TokenClaims = claimsOfSize(MaxTokenClaimsSize+1, "a") }, "tokenClaims"},
		// Ten 256-character values: the 14.6 KB token gateways refused.
		{"ten longest claims", func(s *Spec) {
			s.TokenClaims = map[string]string{}
			for i := range MaxTokenClaims {
				s.TokenClaims[fmt.Sprintf("claim%d", i)] = strings.Repeat("v", MaxClaimValueLength)
			}
		}, "tokenClaims"},
		// "<" is \u003c in the token: six bytes, not one.
		{"escaped claims at the size bound", func(s *Spec) { s.TokenClaims = claimsOfSize(MaxTokenClaimsSize, "<") }, ""},
		{"escapes counted as the token carries them", func(s *Spec) {
			s.TokenClaims = claimsOfSize(MaxTokenClaimsSize, "a")
			s.TokenClaims["claim0"] = "<" + s.TokenClaims["claim0"][1:]
		}, "tokenClaims"},
		{"audiences at the size bound", func(s *Spec) { s.Audiences = audiencesOfSize(MaxAudiencesSize) }, ""},
		{"audiences past the size bound", func(s *Spec) { s.Audiences = audiencesOfSize(MaxAudiencesSize + 1) }, "allowedAudiences"},
	})
}

func TestSubjectID(t *testing.T) {
	c := Client{ID: "0a1b"}
	if c.SubjectID() != "client-0a1b" {
		t.Fatal(c.SubjectID())
	}
}

// claimsOfSize returns claims of MaxTokenClaims entries whose names and
// values take size bytes in a token, each value starting with lead.
func claimsOfSize(size int, lead string) map[string]string {
	out := map[string]string{}
	for i := range MaxTokenClaims {
		name := fmt.Sprintf("claim%d", i)
		n := size / MaxTokenClaims
		if i < size%MaxTokenClaims {
			n++
		}
		value := lead + strings.Repeat("v", n-len(name)-jsonSize(lead))
		out[name] = value
	}
	return out
}

// audiencesOfSize returns MaxAudiences audiences totalling size bytes.
func audiencesOfSize(size int) []string {
	var out []string
	for i := range MaxAudiences {
		head := fmt.Sprintf("https://api%02d.example.com/", i)
		n := size / MaxAudiences
		if i < size%MaxAudiences {
			n++
		}
		out = append(out, head+strings.Repeat("p", n-len(head)))
	}
	return out
}

func TestJSONSize(t *testing.T) {
	for s, want := range map[string]int{"": 0, "abc": 3, "é": 2, "<a>": 13, "&": 6, `"\`: 4, "\u2028": 6, "😀": 4} {
		if got := jsonSize(s); got != want {
			t.Errorf("jsonSize(%q) = %d, want %d", s, got, want)
		}
	}
}
