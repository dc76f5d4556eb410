package app

import (
	"strings"
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
		{"TABLE_NAME": "t", "SIGNING_KEY_ID": "k", "ISSUER_URL": "https://" + strings.Repeat("a", 293)},
		{"TABLE_NAME": "t", "SIGNING_KEY_ID": "k", "ISSUER_URL": "https://id.example.com/iam"},
		{"TABLE_NAME": "t", "SIGNING_KEY_ID": "k", "ISSUER_URL": "https://id.example.com?x=1"},
	} {
		if _, err := ConfigFromEnv(env(bad)); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

func TestConfigLimits(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		base := map[string]string{"TABLE_NAME": "t", "SIGNING_KEY_ID": "k"}
		for k, v := range m {
			base[k] = v
		}
		return func(k string) string { return base[k] }
	}
	c, err := ConfigFromEnv(env(map[string]string{"REQUEST_TIMEOUT_SECONDS": "3", "TOKEN_REUSE_PERCENT": "50",
		"LOCKOUT_THRESHOLD": "5", "LOCKOUT_WINDOW_SECONDS": "60", "MAX_ASSERTION_LIFETIME_SECONDS": "600"}))
	if err != nil || c.RequestTimeout != 3*time.Second || c.TokenReusePercent != 50 || c.Lockout.Threshold != 5 || c.Lockout.Window != time.Minute ||
		c.MaxAssertionLifetime != 10*time.Minute {
		t.Fatalf("%+v %v", c, err)
	}
	if c, _ := ConfigFromEnv(env(nil)); c.MaxAssertionLifetime != time.Hour {
		t.Errorf("default assertion lifetime %s, want an hour", c.MaxAssertionLifetime)
	}
	for _, bad := range []map[string]string{
		{"REQUEST_TIMEOUT_SECONDS": "0"}, {"TOKEN_REUSE_PERCENT": "100"}, {"LOCKOUT_THRESHOLD": "0"}, {"LOCKOUT_WINDOW_SECONDS": "x"},
		{"MAX_ASSERTION_LIFETIME_SECONDS": "59"}, {"MAX_ASSERTION_LIFETIME_SECONDS": "86401"},
		{"SIGNING_KEYS_MAC_KEY": "short"}, {"SECRET_TAG_KEY": "short"},
		{"SIGNING_KEYS_MAC_KEY": "{{resolve:secretsmanager:stack/signing-keys-mac-key:SecretString}}"},
	} {
		if _, err := ConfigFromEnv(env(bad)); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}
