package federation

import (
	"strings"
	"testing"
)

func TestSubjectWildcardStaysInItsPart(t *testing.T) {
	for _, tc := range []struct {
		pattern, subject string
		want             bool
	}{
		{"repo:acme/orders:ref:refs/heads/main", "repo:acme/orders:ref:refs/heads/main", true},
		{"repo:acme/orders:ref:refs/heads/main", "repo:acme/orders:ref:refs/heads/mainx", false},
		{"repo:acme/*:ref:refs/heads/main", "repo:acme/billing:ref:refs/heads/main", true},
		{"repo:acme/*:ref:refs/heads/main", "repo:acme/a/b:ref:refs/heads/main", false},
		{"repo:acme/*:ref:refs/heads/main", "repo:acme/x:y:ref:refs/heads/main", false},
		{"repo:acme/*:ref:refs/heads/main", "repo:acme/:ref:refs/heads/main", false},
		{"repo:acme/*:ref:refs/heads/main", "repo:evil/acme/x:ref:refs/heads/main", false},
		{"repo:acme/orders:environment:*", "repo:acme/orders:environment:prod", true},
		{"repo:acme/orders:environment:*", "repo:acme/orders:environment:prod:ref:x", false},
		{"repo:acme/orders:ref:refs/heads/release-*", "repo:acme/orders:ref:refs/heads/release-1.2", true},
		{"repo:acme/orders:ref:refs/heads/release-*", "repo:acme/orders:ref:refs/heads/release-1/evil", false},
		{"repo:acme/orders:ref:refs/heads/*-prod", "repo:acme/orders:ref:refs/heads/eu-prod", true},
		{"repo:acme/orders:ref:refs/heads/*-prod", "repo:acme/orders:ref:refs/heads/-prod", false},
		{"system:serviceaccount:ns:*", "system:serviceaccount:ns:builder", true},
		{"system:serviceaccount:ns:*", "system:serviceaccount:other:builder", false},
	} {
		if got := MatchSubject(tc.pattern, tc.subject); got != tc.want {
			t.Errorf("MatchSubject(%q, %q) = %v, want %v", tc.pattern, tc.subject, got, tc.want)
		}
	}
}

func TestSubjectPatternsThatAdmitTooMuchAreRefused(t *testing.T) {
	for _, p := range []string{"", "*", "*:*", "repo:**", strings.Repeat("a", MaxSubjectLength+1), "a\x00b"} {
		if CheckSubject(p) == "" {
			t.Errorf("CheckSubject(%q) accepted", p)
		}
	}
	for _, p := range []string{"repo:acme/*:ref:refs/heads/main", "system:serviceaccount:ns:name", "client-x"} {
		if msg := CheckSubject(p); msg != "" {
			t.Errorf("CheckSubject(%q) = %s", p, msg)
		}
	}
}

func TestParseOIDC(t *testing.T) {
	d := Deployment{IssuerBase: "https://id.example.com", Tenant: "acme"}
	ok := Spec{Type: TypeOIDC, Issuer: "https://token.actions.githubusercontent.com", Subject: "repo:acme/orders:ref:refs/heads/main",
		Claims: map[string]string{"repository_owner_id": "123"}, Description: "CI"}
	c, errs := ok.Parse(d)
	if len(errs) > 0 {
		t.Fatalf("Parse: %v", errs)
	}
	if c.Audience != "https://id.example.com/acme" {
		t.Errorf("default audience = %q, want the tenant's issuer", c.Audience)
	}
	for name, tc := range map[string]struct {
		mutate func(*Spec)
		field  string
	}{
		"own issuer":       {func(s *Spec) { s.Issuer = "https://id.example.com/acme" }, "issuer"},
		"http issuer":      {func(s *Spec) { s.Issuer = "http://issuer.example" }, "issuer"},
		"trailing slash":   {func(s *Spec) { s.Issuer = "https://issuer.example/" }, "issuer"},
		"query":            {func(s *Spec) { s.Issuer = "https://issuer.example?x=1" }, "issuer"},
		"foreign audience": {func(s *Spec) { s.Audience = "sts.amazonaws.com" }, "audience"},
		"other tenant aud": {func(s *Spec) { s.Audience = "https://id.example.com/other" }, "audience"},
		"dot segments":     {func(s *Spec) { s.Audience = "https://id.example.com/acme/../other" }, "audience"},
		"wildcard other":   {func(s *Spec) { s.Issuer, s.Subject = "https://id.example.com/other", "client-*" }, "subject"},
		"group of other": {func(s *Spec) {
			s.Issuer, s.Subject = "https://id.example.com/other", "group-0b5a3f3e-2c8e-4a0c-9a39-1f6f0c1d2e3f"
		}, "subject"},
		"not a client id":   {func(s *Spec) { s.Issuer, s.Subject = "https://id.example.com/other", "client-a#b" }, "subject"},
		"claim on sub":      {func(s *Spec) { s.Claims = map[string]string{"sub": "x"} }, "claims"},
		"private jwks":      {func(s *Spec) { s.JWKS = []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`) }, "jwks"},
		"aws member":        {func(s *Spec) { s.Principal = "arn:aws:iam::123456789012:role/x" }, "principal"},
		"missing subject":   {func(s *Spec) { s.Subject = "" }, "subject"},
		"empty description": {func(s *Spec) { s.Description = " " }, "description"},
	} {
		s := ok
		tc.mutate(&s)
		if _, errs := s.Parse(d); len(errs[tc.field]) == 0 {
			t.Errorf("%s: no error on %s (got %v)", name, tc.field, errs)
		}
	}
	// Another tenant of the deployment, exactly: recorded as a trust.
	s := ok
	s.Issuer, s.Subject = "https://id.example.com/other", "client-0b5a3f3e-2c8e-4a0c-9a39-1f6f0c1d2e3f"
	c, errs = s.Parse(d)
	if len(errs) > 0 || c.TrustedTenant != "other" || c.TrustedSubject != s.Subject {
		t.Errorf("other tenant: %+v %v", c, errs)
	}
	// The default tenant's issuer is the base; its audiences may not be
	// another tenant's issuer.
	def := Deployment{IssuerBase: "https://id.example.com", Tenant: "default"}
	if AudienceOf(def.IssuerBase, def.Tenant, "https://id.example.com/acme") || !AudienceOf(def.IssuerBase, def.Tenant, "https://id.example.com/connect/token") {
		t.Error("default tenant audiences")
	}
}

func TestAWSPrincipals(t *testing.T) {
	for _, p := range []string{"arn:aws:iam::123456789012:role/*", "arn:aws:iam::*:role/x", "arn:aws:iam::123456789012:role/path/x",
		"arn:aws:sts::123456789012:assumed-role/x/y", "arn:aws:iam::123456789012:root"} {
		if CheckPrincipal(p) == "" {
			t.Errorf("CheckPrincipal(%q) accepted", p)
		}
	}
	c := Credential{Type: TypeAWS, Principal: "arn:aws:iam::123456789012:role/orders-*"}
	for arn, want := range map[string]bool{
		"arn:aws:sts::123456789012:assumed-role/orders-deploy/session-1": true,
		"arn:aws:sts::123456789012:assumed-role/orders-/s":               false,
		"arn:aws:sts::210987654321:assumed-role/orders-deploy/session-1": false,
		"arn:aws:sts::123456789012:assumed-role/billing/orders-x":        false,
		"arn:aws:iam::123456789012:role/orders-deploy":                   true,
		"arn:aws:iam::123456789012:user/orders-deploy":                   false,
	} {
		caller, ok := ParseCaller(arn, "AROAEXAMPLEEXAMPLE12:session-1")
		if got := ok && c.AcceptsCaller(caller); got != want {
			t.Errorf("%s: accepted %v, want %v", arn, got, want)
		}
	}
	pinned := c
	pinned.RoleID = "AROAEXAMPLEEXAMPLE12"
	caller, _ := ParseCaller("arn:aws:sts::123456789012:assumed-role/orders-deploy/s", "AROAOTHEROTHEROTHER1:s")
	if pinned.AcceptsCaller(caller) {
		t.Error("a re-created role (another unique id) was accepted by a pinned credential")
	}
}
