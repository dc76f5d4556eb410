package authorizer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	base := map[string]string{EnvIssuer: "https://id.example.test/acme", EnvAudience: testAudience, EnvBaseURL: "https://id.example.test",
		EnvRoutes: orderRoutes, EnvClientID: "c1"}
	env := func(extra map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := extra[k]; ok {
				return v
			}
			return base[k]
		}
	}
	secrets := func(_ context.Context, arn string) (string, error) {
		switch arn {
		case "arn:secret":
			return "s3cret", nil
		case "arn:key":
			return keyPEM, nil
		}
		return "", errors.New("no such secret")
	}
	cfg, err := ConfigFromEnv(context.Background(), env(map[string]string{EnvClientSecretARN: "arn:secret", EnvMaxCache: "30"}), secrets)
	if err != nil || cfg.Credentials.Secret != "s3cret" || cfg.MaxCache != 30*time.Second || cfg.DenialCache != 0 || cfg.Issuer != base[EnvIssuer] {
		t.Fatalf("%+v %v", cfg, err)
	}
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
	cfg, err = ConfigFromEnv(context.Background(), env(map[string]string{EnvClientKeyARN: "arn:key", EnvClientKeyID: "k1"}), secrets)
	if err != nil || cfg.Credentials.Key == nil || cfg.Credentials.Key.KeyID != "k1" || cfg.Credentials.Key.Algorithm != "ES256" {
		t.Fatalf("key: %+v %v", cfg.Credentials, err)
	}
	for name, extra := range map[string]map[string]string{
		"no credential":      {},
		"two credentials":    {EnvClientSecret: "a", EnvClientKey: keyPEM},
		"unreadable secret":  {EnvClientSecretARN: "arn:none"},
		"bad key":            {EnvClientKey: "nope"},
		"bad routes":         {EnvClientSecret: "a", EnvRoutes: "{"},
		"negative cache":     {EnvClientSecret: "a", EnvDenialCache: "-1"},
		"cache over an hour": {EnvClientSecret: "a", EnvMaxCache: "3601"},
	} {
		if _, err := ConfigFromEnv(context.Background(), env(extra), secrets); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the secret", name)
		}
	}
}
