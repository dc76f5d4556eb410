package integration

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/machine-iam/machine-iam/local/protectedapi"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	kmssigner "github.com/machine-iam/machine-iam/shared/signing/kms"
)

// TestProtectedAPIExample serves examples/protected-api through the local
// API Gateway emulation, whose JWT authorizer trusts this stack's default
// tenant, and calls GET /hello as a client of this service would.
func TestProtectedAPIExample(t *testing.T) {
	// The Lambda authorizer of GET /orders/{orderId} is not readied here:
	// TestProtectedOrders walks it.
	gw, err := protectedapi.Gateway(context.Background(), "..", env.base, env.base, protectedapi.Ready{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(gw)
	defer api.Close()
	call := func(bearer string) (int, http.Header, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, api.URL+"/hello", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		r := response{Status: resp.StatusCode, Body: b}
		return resp.StatusCode, resp.Header, r.json(t)
	}

	admin := adminToken(t)
	body := clientBody("example-caller", "api", "services.iam")
	body["allowedAudiences"] = []string{"https://api.example.test", "https://other.example.test"}
	cid := send(t, http.MethodPost, "/v1/clients", admin, body).json(t)["clientId"].(string)
	send(t, http.MethodPost, "/v1/clients/"+cid+"/secrets", admin, map[string]string{"value": "example-secret-1", "description": "x"})
	tokenWith := func(scope, resource string) string {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {cid}, "client_secret": {"example-secret-1"},
			"scope": {scope}, "resource": {resource}}
		r := send(t, http.MethodPost, "/connect/token", "", form)
		if r.Status != http.StatusOK {
			t.Fatal(r)
		}
		return r.json(t)["access_token"].(string)
	}

	status, _, got := call(tokenWith("api", "https://api.example.test"))
	claims, _ := got["claims"].(map[string]any)
	if status != http.StatusOK || claims["sub"] != "client-"+cid || claims["aud"] != "https://api.example.test" || claims["scope"] != "api" ||
		claims["iss"] != env.base || got["message"] != "Hello, client-"+cid {
		t.Fatalf("GET /hello with a token for it: %d %v", status, got)
	}

	refused := func(name, bearer string, want int, message string) {
		t.Helper()
		status, h, got := call(bearer)
		if status != want || got["message"] != message || h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %v %q, want %d %s", name, status, got, h.Get("WWW-Authenticate"), want, message)
		}
	}
	refused("no token", "", http.StatusUnauthorized, "Unauthorized")

	// GET /orders/{orderId}: without a token, 401 before the authorizer;
	// with one, an authorizer that cannot decide fails closed with 500.
	for bearer, want := range map[string]int{"": http.StatusUnauthorized, tokenWith("api", "https://api.example.test"): http.StatusInternalServerError} {
		req, _ := http.NewRequest(http.MethodGet, api.URL+"/orders/1", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET /orders/1 with an unready authorizer: %d, want %d", resp.StatusCode, want)
		}
	}
	refused("another audience", tokenWith("api", "https://other.example.test"), http.StatusUnauthorized, "Unauthorized")
	refused("without the api scope", tokenWith("services.iam", "https://api.example.test"), http.StatusForbidden, "Forbidden")

	env.clock.Advance(-2 * time.Hour)
	expired := tokenWith("api", "https://api.example.test")
	env.clock.Reset()
	refused("expired", expired, http.StatusUnauthorized, "Unauthorized")

	// An ES256 token of this issuer: JWT authorizers take RSA only.
	ctx := context.Background()
	ecc, err := env.svc.KMS.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	minter := &token.Minter{Signer: kmssigner.New(env.svc.KMS, *ecc.KeyMetadata.KeyId), Lifetime: time.Hour, Now: time.Now}
	es256, _, err := minter.Mint(ctx, token.Grant{Issuer: env.base, Tenant: "default", Subject: "client-" + cid, ClientID: cid,
		Scopes: []string{"api"}, Audiences: []string{"https://api.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	refused("ES256", es256, http.StatusUnauthorized, "Unauthorized")
}
