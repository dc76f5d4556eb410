package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionSigner signs client assertions as a client library does.
type assertionSigner struct {
	key any
	alg jose.SignatureAlgorithm
	kid string
}

func (a assertionSigner) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if a.kid != "" {
		opts = opts.WithHeader("kid", a.kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: a.alg, Key: a.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func publicJWK(t *testing.T, pub any, kid, alg string) map[string]any {
	t.Helper()
	b, err := jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: alg}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

var jtiCounter int

// TestPrivateKeyJWT registers public keys for a client and authenticates
// it at the token endpoint with assertions signed by go-jose, then tries
// every forgery and replay a client library or an attacker would. (Its
// assertions are valid for minutes, so they could have been used under an
// older release: their cost holds a GetItem of where that kept them.)
func TestPrivateKeyJWT(t *testing.T) {
	admin := adminToken(t)
	cid := send(t, http.MethodPost, "/v1/clients", admin, clientBody("key-client", "api")).json(t)["clientId"].(string)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	register := func(jwk map[string]any, mods ...func(map[string]any)) response {
		body := map[string]any{"jwk": jwk, "description": "test key"}
		for _, m := range mods {
			m(body)
		}
		return send(t, http.MethodPost, "/v1/clients/"+cid+"/keys", admin, body)
	}
	r := register(publicJWK(t, &rsaKey.PublicKey, "", ""))
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	rsaKid := r.json(t)["kid"].(string)
	if len(rsaKid) != 43 || r.json(t)["expired"] != false {
		t.Errorf("an RSA key without kid gets its RFC 7638 thumbprint: %v", r.json(t))
	}
	if r := register(publicJWK(t, &ecKey.PublicKey, "ec-1", "ES256")); r.Status != http.StatusCreated || r.json(t)["alg"] != "ES256" {
		t.Fatal(r)
	}
	expiring, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if r := register(publicJWK(t, &expiring.PublicKey, "soon", ""), func(b map[string]any) {
		b["expiration"] = env.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	}); r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	deleted, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	r = register(publicJWK(t, &deleted.PublicKey, "gone", ""))
	if r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	if d := send(t, http.MethodDelete, "/v1/clients/"+cid+"/keys/"+r.json(t)["id"].(string), admin, nil); d.Status != http.StatusNoContent {
		t.Fatal(d)
	}
	if l := send(t, http.MethodGet, "/v1/clients/"+cid+"/keys", admin, nil).json(t)["items"].([]any); len(l) != 3 {
		t.Fatalf("keys %v", l)
	}

	t.Run("refused keys", func(t *testing.T) {
		privJWK, _ := jose.JSONWebKey{Key: ecKey}.MarshalJSON()
		var withD map[string]any
		_ = json.Unmarshal(privJWK, &withD)
		small, _ := rsa.GenerateKey(rand.Reader, 1024)
		p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		for name, jwk := range map[string]any{
			"private EC key":   withD,
			"RSA 1024":         publicJWK(t, &small.PublicKey, "", ""),
			"EC P-384":         publicJWK(t, &p384.PublicKey, "", ""),
			"symmetric":        map[string]any{"kty": "oct", "k": "c2VjcmV0"},
			"alg does not fit": publicJWK(t, &ecKey.PublicKey, "x", "RS256"),
			"not an object":    "jwk",
		} {
			r := register(map[string]any{}, func(b map[string]any) { b["jwk"] = jwk })
			assertProblem(t, r, http.StatusBadRequest)
			if _, leaked := r.json(t)["d"]; leaked {
				t.Errorf("%s: the response repeats the key", name)
			}
		}
		// A kid is unique per client.
		assertProblem(t, register(publicJWK(t, &ecKey.PublicKey, "ec-1", "")), http.StatusConflict)
	})

	audience := env.base
	now := func() time.Time { return env.clock.Now() }
	claims := func(mod map[string]any) map[string]any {
		jtiCounter++
		c := map[string]any{"iss": cid, "sub": cid, "aud": audience, "exp": now().Add(2 * time.Minute).Unix(),
			"iat": now().Unix(), "jti": "jti-" + strconv.Itoa(jtiCounter) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
		for k, v := range mod {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	exchange := func(assertion string, extra url.Values) response {
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {jwtBearer}, "client_assertion": {assertion}}
		maps.Copy(form, extra)
		return send(t, http.MethodPost, "/connect/token", "", form)
	}
	rs := assertionSigner{key: rsaKey, alg: jose.RS256, kid: rsaKid}
	for name, s := range map[string]assertionSigner{
		"RS256": rs, "PS256": {key: rsaKey, alg: jose.PS256, kid: rsaKid}, "ES256": {key: ecKey, alg: jose.ES256, kid: "ec-1"},
		"ES256 without kid": {key: ecKey, alg: jose.ES256},
	} {
		if r := exchange(s.sign(t, claims(nil)), nil); r.Status != http.StatusOK || r.json(t)["access_token"] == "" {
			t.Errorf("%s: %s", name, r)
		}
	}
	if r := exchange(rs.sign(t, claims(map[string]any{"aud": env.base + "/connect/token"})), url.Values{"client_id": {cid}}); r.Status != http.StatusOK {
		t.Errorf("aud = token endpoint, with client_id: %s", r)
	}

	replayed := rs.sign(t, claims(nil))
	exchange(replayed, nil)
	hs := func() string {
		der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
		h, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": rsaKid, "typ": "JWT"})
		c, _ := json.Marshal(claims(nil))
		in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
		mac := hmac.New(sha256.New, der)
		mac.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}()
	none := func() string {
		h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT"})
		c, _ := json.Marshal(claims(nil))
		return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
	}()
	stranger, _ := rsa.GenerateKey(rand.Reader, 2048)
	refused := map[string]string{
		"wrong aud":                      rs.sign(t, claims(map[string]any{"aud": "https://evil.example.test"})),
		"aud of another path":            rs.sign(t, claims(map[string]any{"aud": env.base + "/v1/clients"})),
		"aud shared with another server": rs.sign(t, claims(map[string]any{"aud": []string{env.base, "https://other.example.test"}})),
		"expired":                        rs.sign(t, claims(map[string]any{"exp": now().Add(-2 * time.Minute).Unix()})),
		"no exp":                         rs.sign(t, claims(map[string]any{"exp": nil})),
		"exp past the maximum":           rs.sign(t, claims(map[string]any{"exp": now().Add(time.Hour + 2*time.Minute).Unix()})),
		"no jti":                         rs.sign(t, claims(map[string]any{"jti": nil})),
		"replayed jti":                   replayed,
		"unknown kid":                    assertionSigner{key: rsaKey, alg: jose.RS256, kid: "nope"}.sign(t, claims(nil)),
		"deleted key":                    assertionSigner{key: deleted, alg: jose.ES256, kid: "gone"}.sign(t, claims(nil)),
		"not a registered key":           assertionSigner{key: stranger, alg: jose.RS256, kid: rsaKid}.sign(t, claims(nil)),
		"alg none":                       none,
		"HS256 with the public key":      hs,
		"wrong iss":                      rs.sign(t, claims(map[string]any{"iss": "00000000-0000-4000-8000-000000000000"})),
		"wrong sub":                      rs.sign(t, claims(map[string]any{"sub": "someone"})),
		"not a JWT":                      "abc.def.ghi",
	}
	// Each from an address of its own: more refusals than one address's
	// threshold, and each must be a refusal, not the throttle.
	address := 0
	for name, a := range refused {
		address++
		t.Run(name, func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {jwtBearer}, "client_assertion": {a}}
			r := sendVia(t, fromAddress("127.0.4."+strconv.Itoa(address)), http.MethodPost, "/connect/token", "", form)
			if r.Status != http.StatusUnauthorized || r.json(t)["error"] != "invalid_client" {
				t.Errorf("%s", r)
			}
		})
	}
	t.Run("expired key", func(t *testing.T) {
		env.clock.Advance(2 * time.Hour)
		defer env.clock.Reset()
		r := exchange(assertionSigner{key: expiring, alg: jose.ES256, kid: "soon"}.sign(t, claims(nil)), nil)
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s", r)
		}
	})
	t.Run("unknown client, alike", func(t *testing.T) {
		other := "00000000-0000-4000-8000-00000000abcd"
		r := exchange(rs.sign(t, claims(map[string]any{"iss": other, "sub": other})), nil)
		if r.Status != http.StatusUnauthorized || r.json(t)["error"] != "invalid_client" {
			t.Errorf("%s", r)
		}
	})
	t.Run("two methods, or a wrong type", func(t *testing.T) {
		a := rs.sign(t, claims(nil))
		for name, extra := range map[string]url.Values{
			"and a secret":    {"client_id": {cid}, "client_secret": {"x"}},
			"wrong type":      {"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:saml2-bearer"}},
			"empty assertion": {"client_assertion": {""}},
		} {
			if r := exchange(a, extra); r.Status != http.StatusBadRequest || r.json(t)["error"] != "invalid_request" {
				t.Errorf("%s: %s", name, r)
			}
		}
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {jwtBearer}, "client_assertion": {a}}
		if r := send(t, http.MethodPost, "/connect/token", "", form, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cid+":x"))); r.Status != http.StatusBadRequest {
			t.Errorf("with Basic: %s", r)
		}
	})
	t.Run("cost", func(t *testing.T) {
		atWindowStart(t) // the refusals above spent this address's attempts
		env.calls.reset()
		if r := exchange(rs.sign(t, claims(nil)), nil); r.Status != http.StatusOK {
			t.Fatal(r)
		}
		if got, want := env.calls.snapshot(), map[string]int{"DynamoDB:Query": 2, "DynamoDB:PutItem": 1, "DynamoDB:GetItem": 1, "KMS:Sign": 1}; !maps.Equal(got, want) {
			t.Errorf("calls %v, want %v", got, want)
		}
	})
	t.Run("failures count for throttling", func(t *testing.T) {
		atWindowStart(t)
		hc := fromAddress("127.0.3.1")
		bad := assertionSigner{key: stranger, alg: jose.RS256, kid: rsaKid}
		var last response
		for range 12 {
			form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {jwtBearer}, "client_assertion": {bad.sign(t, claims(nil))}}
			last = sendVia(t, hc, http.MethodPost, "/connect/token", "", form)
		}
		if last.Status != http.StatusTooManyRequests {
			t.Errorf("the 12th failure from one address: %s", last)
		}
	})
}

// TestAssertionAnHourAhead: an assertion whose exp is an hour ahead (the
// default maximum; Python's authlib signs PrivateKeyJWT assertions for
// 3600 s) is accepted, costs no read of where older releases kept used
// assertions, and stays single-use all its life; past the maximum and the
// leeway it is refused.
func TestAssertionAnHourAhead(t *testing.T) {
	admin := adminToken(t)
	cid := send(t, http.MethodPost, "/v1/clients", admin, clientBody("hour-key-client", "api")).json(t)["clientId"].(string)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if r := send(t, http.MethodPost, "/v1/clients/"+cid+"/keys", admin, map[string]any{"jwk": publicJWK(t, &key.PublicKey, "hour", "ES256"), "description": "k"}); r.Status != http.StatusCreated {
		t.Fatal(r)
	}
	s := assertionSigner{key: key, alg: jose.ES256, kid: "hour"}
	assertion := func(ahead time.Duration) string {
		now := env.clock.Now()
		return s.sign(t, map[string]any{"iss": cid, "sub": cid, "aud": env.base, "iat": now.Unix(), "exp": now.Add(ahead).Unix(),
			"jti": "hour-" + strconv.FormatInt(time.Now().UnixNano(), 36)})
	}
	exchange := func(a, address string) response {
		return sendVia(t, fromAddress(address), http.MethodPost, "/connect/token", "",
			url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {jwtBearer}, "client_assertion": {a}})
	}
	a := assertion(time.Hour)
	env.calls.reset()
	if r := exchange(a, "127.0.5.1"); r.Status != http.StatusOK {
		t.Fatalf("exp = now+3600: %s", r)
	}
	// The key's first use also notes its lastUsedAt.
	if got, want := env.calls.snapshot(), map[string]int{"DynamoDB:Query": 2, "DynamoDB:PutItem": 1, "DynamoDB:UpdateItem": 1, "KMS:Sign": 1}; !maps.Equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	defer env.clock.Reset()
	for _, later := range []time.Duration{0, 10 * time.Minute, 45 * time.Minute} {
		env.clock.Reset()
		env.clock.Advance(later)
		if r := exchange(a, "127.0.5.2"); r.Status != http.StatusUnauthorized || r.json(t)["error"] != "invalid_client" {
			t.Errorf("replayed %s later: %s", later, r)
		}
	}
	env.clock.Reset()
	if r := exchange(assertion(time.Hour+2*time.Minute), "127.0.5.3"); r.Status != http.StatusUnauthorized {
		t.Errorf("exp past the maximum and the leeway: %s", r)
	}
}
