package app

import (
	"testing"
	"time"
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
