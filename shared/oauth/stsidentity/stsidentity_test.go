package stsidentity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// A signed header holding a line break cannot be sent; it is the caller's
// mistake (counted as a failed authentication), never an STS outage.
func TestUnsendableHeaderIsInvalid(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	c := New(Options{Now: func() time.Time { return now }})
	audience := "https://id.example.com/acme"
	raw := func(v string) json.RawMessage { b, _ := json.Marshal(v); return b }
	sig := strings.Repeat("a", 64)
	s := Signed{Method: "POST", URL: "https://sts.amazonaws.com/", Body: Body, Headers: map[string]json.RawMessage{
		"Authorization": raw("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/us-east-1/sts/aws4_request, " +
			"SignedHeaders=host;x-amz-date;x-machine-iam-audience;x-a, Signature=" + sig),
		"X-Amz-Date":             raw(now.Format(amzDateLayout)),
		"X-Machine-Iam-Audience": raw(audience),
		"X-A":                    raw("a\nb"),
	}}
	b, _ := json.Marshal(s)
	_, err := c.Check(context.Background(), base64.RawURLEncoding.EncodeToString(b), audience)
	if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}
