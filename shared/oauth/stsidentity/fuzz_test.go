package stsidentity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// FuzzSignedCallerIdentity feeds build arbitrary assertions. Whatever it is given, it
// either refuses with ErrInvalid or builds a POST of the fixed body to an
// allow-listed STS endpoint, carrying only the headers the caller signed:
// an assertion can never steer the request the service sends.
func FuzzSignedCallerIdentity(f *testing.F) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	audience := "https://id.example.com/acme"
	raw := func(v string) json.RawMessage { b, _ := json.Marshal(v); return b }
	seed := func(url, signed string, extra map[string]json.RawMessage) string {
		h := map[string]json.RawMessage{
			"Authorization": raw("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/eu-north-1/sts/aws4_request, " +
				"SignedHeaders=" + signed + ", Signature=" + strings.Repeat("0", 64)),
			"X-Amz-Date":             raw(now.Format(amzDateLayout)),
			"X-Machine-Iam-Audience": raw(audience),
		}
		for k, v := range extra {
			h[k] = v
		}
		b, _ := json.Marshal(Signed{Method: "POST", URL: url, Body: Body, Headers: h})
		return base64.RawURLEncoding.EncodeToString(b)
	}
	valid := []string{
		seed("https://sts.amazonaws.com/", "host;x-amz-date;x-machine-iam-audience", nil),
		seed("https://sts.eu-north-1.amazonaws.com", "host;x-amz-date;x-machine-iam-audience;x-amz-security-token",
			map[string]json.RawMessage{"X-Amz-Security-Token": raw("token")}),
	}
	c := New(Options{Now: func() time.Time { return now }})
	for _, a := range valid {
		// The seeds that build keep the checks below exercised.
		if _, _, err := c.build(context.Background(), a, audience); err != nil {
			f.Fatalf("a valid seed does not build: %v", err)
		}
		f.Add(a)
	}
	f.Add(seed("https://sts.evil.example/", "host;x-amz-date;x-machine-iam-audience", nil))
	f.Add(seed("https://sts.amazonaws.com@evil.example/", "host;x-amz-date;x-machine-iam-audience", nil))
	f.Add(seed("https://sts..amazonaws.com/", "host;x-amz-date;x-machine-iam-audience", nil))
	f.Add(seed("https://sts.amazonaws.com/", "host;x-amz-date;x-machine-iam-audience;host",
		map[string]json.RawMessage{"Host": json.RawMessage(`["evil.example","sts.amazonaws.com"]`)}))
	f.Add("")
	f.Add("e30")
	sts := regexp.MustCompile(`^sts(\.[a-z0-9-]{1,30})?\.amazonaws\.com$`)
	f.Fuzz(func(t *testing.T, assertion string) {
		req, endpoint, err := c.build(context.Background(), assertion, audience)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("a refusal that is not ErrInvalid: %v", err)
			}
			return
		}
		if req.Method != http.MethodPost || req.URL.Scheme != "https" || !sts.MatchString(req.URL.Host) ||
			req.URL.Path != "/" || req.URL.RawQuery != "" || req.URL.User != nil || req.Host != req.URL.Host ||
			endpoint != "https://"+req.URL.Host {
			t.Fatalf("request steered to %s %s (Host %q, endpoint %q)", req.Method, req.URL, req.Host, endpoint)
		}
		if body, _ := io.ReadAll(req.Body); string(body) != Body {
			t.Fatalf("body %q, want the fixed GetCallerIdentity body", body)
		}
		if got := req.Header.Values(AudienceHeader); len(got) != 1 || got[0] != audience {
			t.Fatalf("audience header %q", got)
		}
		signed := authRE().FindStringSubmatch(req.Header.Get("Authorization"))
		if signed == nil {
			t.Fatalf("sent without a SigV4 Authorization header: %q", req.Header.Get("Authorization"))
		}
		for name := range req.Header {
			lower := strings.ToLower(name)
			if lower != "authorization" && lower != "content-type" && !strings.Contains(";"+signed[4]+";", ";"+lower+";") {
				t.Fatalf("header %s sent but not signed (%s)", name, signed[4])
			}
		}
	})
}
