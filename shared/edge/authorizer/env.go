package authorizer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// SecretReader reads a secret's value by its ARN (Secrets Manager, in the
// Lambda function).
type SecretReader func(ctx context.Context, arn string) (string, error)

// Environment variables of the Lambda function (ConfigFromEnv).
const (
	EnvIssuer   = "ISSUER_URL"   // the tenant's issuer, as its tokens' iss
	EnvAudience = "API_AUDIENCE" // this API's registered identifier
	EnvBaseURL  = "IAM_BASE_URL" // the service's base URL
	EnvRoutes   = "ROUTES"       // the route table, JSON
	EnvClientID = "CLIENT_ID"    // the authorizer's own client
	// One credential: a Secrets Manager secret holding the client secret,
	// or one holding a private key (JWK or PEM) for private_key_jwt, with
	// CLIENT_KEY_ID when the key was registered with a kid of its own;
	// CLIENT_SECRET and CLIENT_KEY carry the values themselves, for local
	// runs.
	EnvClientSecretARN = "CLIENT_SECRET_ARN"
	EnvClientKeyARN    = "CLIENT_KEY_SECRET_ARN"
	EnvClientSecret    = "CLIENT_SECRET"
	EnvClientKey       = "CLIENT_KEY"
	EnvClientKeyID     = "CLIENT_KEY_ID"
	// Caching: DECISION_CACHE_SECONDS cuts the answers' ttl for allows
	// (unset: the ttl), DENIAL_CACHE_SECONDS keeps denials (unset: 0).
	EnvMaxCache    = "DECISION_CACHE_SECONDS"
	EnvDenialCache = "DENIAL_CACHE_SECONDS"
)

// ConfigFromEnv reads a Config from the environment variables above,
// reading a credential from its secret when one is named.
func ConfigFromEnv(ctx context.Context, getenv func(string) string, secrets SecretReader) (Config, error) {
	routes, err := ParseRoutes([]byte(getenv(EnvRoutes)))
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvRoutes, err)
	}
	cfg := Config{Issuer: getenv(EnvIssuer), Audience: getenv(EnvAudience), BaseURL: getenv(EnvBaseURL), Routes: routes,
		Credentials: Credentials{ClientID: getenv(EnvClientID)}}
	sources := 0
	for _, name := range []string{EnvClientSecretARN, EnvClientKeyARN, EnvClientSecret, EnvClientKey} {
		if getenv(name) != "" {
			sources++
		}
	}
	if sources != 1 {
		return Config{}, fmt.Errorf("authorizer: set exactly one of %s, %s, %s, %s", EnvClientSecretARN, EnvClientKeyARN, EnvClientSecret, EnvClientKey)
	}
	read := func(arnVar, plainVar string) (string, error) {
		if v := getenv(plainVar); v != "" {
			return v, nil
		}
		if secrets == nil {
			return "", errors.New("authorizer: no secret reader for " + arnVar)
		}
		v, err := secrets(ctx, getenv(arnVar))
		if err != nil {
			return "", fmt.Errorf("authorizer: %s: %w", arnVar, err)
		}
		return v, nil
	}
	if getenv(EnvClientSecretARN) != "" || getenv(EnvClientSecret) != "" {
		if cfg.Credentials.Secret, err = read(EnvClientSecretARN, EnvClientSecret); err != nil {
			return Config{}, err
		}
	} else {
		doc, err := read(EnvClientKeyARN, EnvClientKey)
		if err != nil {
			return Config{}, err
		}
		if cfg.Credentials.Key, err = ParsePrivateKey([]byte(doc), getenv(EnvClientKeyID)); err != nil {
			return Config{}, err
		}
	}
	for _, d := range []struct {
		name string
		into *time.Duration
	}{{EnvMaxCache, &cfg.MaxCache}, {EnvDenialCache, &cfg.DenialCache}} {
		if v := getenv(d.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 3600 {
				return Config{}, fmt.Errorf("authorizer: %s must be 0 to 3600 seconds", d.name)
			}
			*d.into = time.Duration(n) * time.Second
		}
	}
	return cfg, nil
}
