package ststest

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/machine-iam/machine-iam/shared/oauth/stsidentity"
)

var role = Identity{
	Credentials: aws.Credentials{AccessKeyID: "ASIATESTTESTTEST0001", SecretAccessKey: "testsecretkey0000000000000000000000000001", SessionToken: "session-token-1"},
	Arn:         "arn:aws:sts::123456789012:assumed-role/orders-deploy/lambda-1",
	UserID:      "AROATESTTESTTESTTEST1:lambda-1",
	Account:     "123456789012",
}

// TestCheckerAgainstStandIn: a request signed by the AWS SDK passes the
// stand-in's signature check and names its identity; everything the
// Checker must refuse is refused, by it or by the stand-in.
func TestCheckerAgainstStandIn(t *testing.T) {
	sts := New(role)
	srv := httptest.NewServer(sts)
	defer srv.Close()
	ctx := context.Background()
	now := time.Now()
	c := stsidentity.New(stsidentity.Options{Endpoints: []string{srv.URL}, AllowLocal: true, Now: func() time.Time { return now }})
	const aud = "https://id.example.com/acme"
	good, err := Sign(ctx, role.Credentials, srv.URL, "us-east-1", aud, now)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Check(ctx, good, aud)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if res.Caller.Principal != "arn:aws:iam::123456789012:role/orders-deploy" || res.Caller.UniqueID != "AROATESTTESTTESTTEST1" {
		t.Errorf("caller = %+v", res.Caller)
	}

	wrongSecret := role.Credentials
	wrongSecret.SecretAccessKey = "not-the-secret-000000000000000000000000"
	forged, _ := Sign(ctx, wrongSecret, srv.URL, "us-east-1", aud, now)
	old, _ := Sign(ctx, role.Credentials, srv.URL, "us-east-1", aud, now.Add(-10*time.Minute))
	otherAud, _ := Sign(ctx, role.Credentials, srv.URL, "us-east-1", "https://id.example.com/other", now)
	elsewhere, _ := Sign(ctx, role.Credentials, "http://127.0.0.2:1", "us-east-1", aud, now)
	for name, assertion := range map[string]string{
		"wrong secret": forged, "stale": old, "other audience": otherAud, "endpoint not allowed": elsewhere, "garbage": "!!",
	} {
		calls := sts.Calls.Load()
		if _, err := c.Check(ctx, assertion, aud); !errors.Is(err, stsidentity.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
		if name != "wrong secret" && sts.Calls.Load() != calls {
			t.Errorf("%s: STS was asked", name)
		}
	}

	srv.Close()
	if _, err := c.Check(ctx, good, aud); !errors.Is(err, stsidentity.ErrUnavailable) {
		t.Errorf("STS down: err = %v, want ErrUnavailable", err)
	}
}
