package clientkey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func sign(t testing.TB, key any, kid string, claims any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func registered(t testing.TB, priv *ecdsa.PrivateKey, kid string) Key {
	t.Helper()
	doc, _ := jose.JSONWebKey{Key: &priv.PublicKey, KeyID: kid}.MarshalJSON()
	k, errs := Spec{JWK: doc, Description: "d"}.Parse(time.Now())
	if errs != nil {
		t.Fatal(errs)
	}
	return k
}

func TestParseKeepsOnlyPublicKeys(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k := registered(t, priv, "")
	var m map[string]any
	_ = json.Unmarshal(k.JWK, &m)
	if _, ok := m["d"]; ok || k.Kid == "" || m["kid"] != k.Kid {
		t.Fatalf("stored JWK %v, kid %q", m, k.Kid)
	}
	full, _ := jose.JSONWebKey{Key: priv}.MarshalJSON()
	if _, errs := (Spec{JWK: full, Description: "d"}).Parse(time.Now()); errs["jwk"] == nil {
		t.Error("a private JWK must be refused")
	}
}

func TestVerify(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := []Key{registered(t, priv, "k1")}
	now := time.Now()
	good := jwt.Claims{Issuer: "c", Subject: "c", Audience: jwt.Audience{"https://id.example.com"},
		Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: "j1"}
	a, err := ParseAssertion(sign(t, priv, "k1", good))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := a.Verify(keys, []string{"https://id.example.com"}, now, time.Hour); err != nil || v.JTI != "j1" {
		t.Fatal(v, err)
	}
	if _, err := a.Verify(nil, []string{"https://id.example.com"}, now, time.Hour); !errors.Is(err, ErrInvalid) {
		t.Error("no keys must not verify")
	}
	if _, err := a.Verify(keys, []string{"https://other.example.com"}, now, time.Hour); !errors.Is(err, ErrInvalid) {
		t.Error("another audience must not verify")
	}
	// exp up to the deployment's maximum (plus the leeway) ahead, not past it.
	for _, c := range []struct {
		exp  time.Duration
		max  time.Duration
		good bool
	}{
		{time.Hour, DefaultMaxAssertionLifetime, true},
		{time.Hour + Leeway, DefaultMaxAssertionLifetime, true},
		{time.Hour + Leeway + time.Second, DefaultMaxAssertionLifetime, false},
		{10 * time.Minute, 5 * time.Minute, false},
		{2 * time.Hour, 3 * time.Hour, true},
	} {
		claims := good
		claims.Expiry = jwt.NewNumericDate(now.Add(c.exp))
		a, err := ParseAssertion(sign(t, priv, "k1", claims))
		if err != nil {
			t.Fatal(err)
		}
		v, err := a.Verify(keys, []string{"https://id.example.com"}, now, c.max)
		if (err == nil) != c.good {
			t.Errorf("exp now+%s, maximum %s: %v", c.exp, c.max, err)
		}
		if err == nil && !v.Expiry.After(claims.Expiry.Time()) {
			t.Errorf("exp now+%s: the jti is kept until %s, before the assertion expires", c.exp, v.Expiry)
		}
	}
	if _, err := ParseAssertion(sign(t, priv, "k1", jwt.Claims{Issuer: "c", Subject: "d"})); !errors.Is(err, ErrInvalid) {
		t.Error("iss must equal sub")
	}
}

// FuzzAssertion: any string is either refused by ParseAssertion or
// verified without panicking, never accepted against keys that did not
// sign it.
func FuzzAssertion(f *testing.F) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := []Key{registered(f, other, "k1")}
	now := time.Now()
	f.Add(sign(f, priv, "k1", jwt.Claims{Issuer: "c", Subject: "c", Audience: jwt.Audience{"a"}, Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: "j"}))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		a, err := ParseAssertion(raw)
		if err != nil {
			return
		}
		if _, err := a.Verify(keys, []string{"a"}, now, time.Hour); err == nil {
			t.Fatalf("accepted %q with a key that did not sign it", raw)
		}
	})
}
