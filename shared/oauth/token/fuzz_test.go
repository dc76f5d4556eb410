package token

import (
	"context"
	"errors"
	"testing"
	"time"
)

// FuzzVerify: whatever a caller presents, verification never panics and
// either accepts a token of this issuer, within its lifetime, or rejects it
// with ErrInvalid.
func FuzzVerify(f *testing.F) {
	s := newSignerTB(f)
	m := &Minter{Signer: s, Lifetime: time.Hour, Now: time.Now}
	valid, _, err := m.Mint(context.Background(), Grant{Issuer: base, Tenant: "default", Subject: "client-1", ClientID: "1", Scopes: []string{"services.iam"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Add(`{"payload":"e30","signatures":[]}`)
	v := &Verifier{Keys: s, Leeway: DefaultLeeway, Now: time.Now}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw, base)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("rejection without ErrInvalid: %v", err)
			}
			return
		}
		if c.Issuer != base || c.Tenant != "default" || time.Unix(c.Expiry, 0).Before(time.Now().Add(-DefaultLeeway)) {
			t.Fatalf("accepted %+v", c)
		}
	})
}
