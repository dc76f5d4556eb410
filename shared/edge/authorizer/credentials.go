package authorizer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Credentials are the authorizer's own client: its id and either a client
// secret (client_secret_basic) or a private key (private_key_jwt, RFC 7523),
// never both.
type Credentials struct {
	ClientID string
	Secret   string
	// Key signs client assertions; ParsePrivateKey reads one.
	Key *jose.JSONWebKey
}

func (c Credentials) check() error {
	switch {
	case c.ClientID == "":
		return errors.New("authorizer: no client id")
	case (c.Secret == "") == (c.Key == nil):
		return errors.New("authorizer: give the client a secret or a private key, one of the two")
	}
	return nil
}

// ParsePrivateKey reads a private key for private_key_jwt: a private JWK
// (RSA of 2048 bits or more, or EC P-256), or a PEM block (PKCS #8, PKCS #1
// or SEC 1). kid, when not empty, is the kid the key was registered with;
// without it the assertion's kid is the RFC 7638 thumbprint, which is the
// kid the service gives a key registered without one.
func ParsePrivateKey(doc []byte, kid string) (*jose.JSONWebKey, error) {
	var k jose.JSONWebKey
	if block, _ := pem.Decode(doc); block != nil {
		var key any
		var err error
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		}
		if err != nil {
			return nil, fmt.Errorf("authorizer: private key: %w", err)
		}
		k.Key = key
	} else if err := k.UnmarshalJSON(doc); err != nil {
		return nil, fmt.Errorf("authorizer: private key: neither PEM nor a JWK: %w", err)
	}
	switch key := k.Key.(type) {
	case *rsa.PrivateKey:
		if key.N.BitLen() < 2048 {
			return nil, errors.New("authorizer: private key: RSA keys need at least 2048 bits")
		}
		if k.Algorithm == "" {
			k.Algorithm = string(jose.RS256)
		}
	case *ecdsa.PrivateKey:
		if key.Curve != elliptic.P256() {
			return nil, errors.New("authorizer: private key: EC keys must be on P-256")
		}
		k.Algorithm = string(jose.ES256)
	default:
		return nil, errors.New("authorizer: private key: an RSA or EC P-256 private key is required")
	}
	if kid != "" {
		k.KeyID = kid
	}
	if k.KeyID == "" {
		pub := k.Public()
		tp, err := pub.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("authorizer: private key: %w", err)
		}
		k.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	}
	return &k, nil
}

// ownToken is the authorizer's access token for the service's management
// API (scope services.iam), fetched by the client_credentials grant and
// kept until shortly before it expires.
type ownToken struct {
	endpoint string // the tenant's token endpoint
	creds    Credentials
	client   *http.Client
	now      func() time.Time

	mu      sync.Mutex
	token   string
	renewAt time.Time
}

// renewBefore is how long before its expiry the token is replaced, so a
// decision request never carries one that expires on the way.
const renewBefore = 2 * time.Minute

func (o *ownToken) get(ctx context.Context) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.token != "" && o.now().Before(o.renewAt) {
		return o.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"services.iam"}}
	if o.creds.Key != nil {
		assertion, err := o.assertion()
		if err != nil {
			return "", err
		}
		form.Set("client_id", o.creds.ClientID)
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if o.creds.Key == nil {
		// RFC 6749 §2.3.1: both parts form-url-encoded before Basic.
		req.SetBasicAuth(url.QueryEscape(o.creds.ClientID), url.QueryEscape(o.creds.Secret))
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("authorizer: token request: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocument)).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		// The error code says what is wrong with the client; never the
		// secret or the assertion.
		return "", fmt.Errorf("authorizer: token request for client %s: %s %s", o.creds.ClientID, resp.Status, body.Error)
	}
	lifetime := time.Duration(body.ExpiresIn) * time.Second
	o.token, o.renewAt = body.AccessToken, o.now().Add(max(lifetime-renewBefore, lifetime/2))
	return o.token, nil
}

// drop forgets token, when the service refused it (revoked, or signed by a
// key since withdrawn), so the next request fetches another.
func (o *ownToken) drop(token string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.token == token {
		o.token = ""
	}
}

// assertion is an RFC 7523 client assertion for the token endpoint: iss
// and sub the client, aud the token endpoint alone, a minute's lifetime,
// a fresh jti.
func (o *ownToken) assertion() (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(o.creds.Key.Algorithm), Key: o.creds.Key},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("authorizer: assertion signer: %w", err)
	}
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	now := o.now()
	return jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: o.creds.ClientID, Subject: o.creds.ClientID, Audience: jwt.Audience{o.endpoint},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)),
		ID: base64.RawURLEncoding.EncodeToString(jti),
	}).Serialize()
}
