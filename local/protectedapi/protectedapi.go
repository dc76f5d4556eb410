// Package protectedapi readies a running stack's tenant for the example
// resource server (examples/protected-api) and serves it through the local
// API Gateway emulation, its Lambda authorizer included: `make example`
// runs it, and the integration tests walk it.
package protectedapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/machine-iam/machine-iam/examples/protected-api/hello"
	"github.com/machine-iam/machine-iam/local/gateway"
	"github.com/machine-iam/machine-iam/local/samtemplate"
	"github.com/machine-iam/machine-iam/shared/edge/authorizer"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// The example's API, as the tenant registers it.
const (
	Identifier = "https://api.example.test"
	// AuthorizerClientName names the authorizer's own client.
	AuthorizerClientName = "example-orders-authorizer"
	// secretDescription marks the secrets Setup makes, so a later run
	// replaces them instead of piling up.
	secretDescription = "make example: the authorizer's secret"
	// localSecretArn stands for the Secrets Manager secret the template
	// names; the local authorizer reads the secret Setup made from it.
	localSecretArn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:local-example-authorizer"
)

// apiBody registers the example's API: scope orders.read; actions
// orders.manage ⊃ orders.order.read.
var apiBody = map[string]any{
	"identifier":  Identifier,
	"name":        "Orders (example)",
	"description": "The example resource server of examples/protected-api.",
	"scopes":      []map[string]string{{"name": "orders.read", "description": "Read orders."}},
	"actions": []map[string]any{
		{"action": "orders.manage", "description": "Everything on orders."},
		{"action": "orders.order.read", "parent": "orders.manage", "description": "Read an order."},
	},
}

// Ready is what Setup made or found.
type Ready struct {
	APIID    string
	ClientID string // the authorizer's own client
	Secret   string // its secret, made by this run
}

// Setup readies admin's tenant: registers the API when absent, and gives
// the authorizer a client of its own (scope services.iam, made when
// absent) with a fresh secret and iam.decision.check on the API.
func Setup(ctx context.Context, admin apiclient.Credentials, hc *http.Client) (Ready, error) {
	api, err := apiclient.New(ctx, admin, hc)
	if err != nil {
		return Ready{}, err
	}
	var ready Ready
	if ready.APIID, err = ensureAPI(ctx, admin, hc); err != nil {
		return Ready{}, err
	}
	clients, err := api.ListClients(ctx, AuthorizerClientName)
	if err != nil {
		return Ready{}, err
	}
	for _, c := range clients {
		if c.Name == AuthorizerClientName {
			ready.ClientID = c.ClientID
		}
	}
	if ready.ClientID == "" {
		c, err := api.CreateClient(ctx, wire.ClientCreate{ClientSpec: wire.ClientSpec{Name: AuthorizerClientName,
			Description:       "The Lambda authorizer of examples/protected-api: asks for decisions.",
			AllowedGrantTypes: []string{"client_credentials"}, AllowedScopes: []string{"services.iam"}, RedirectURIs: []string{}}})
		if err != nil {
			return Ready{}, fmt.Errorf("creating the authorizer's client: %w", err)
		}
		ready.ClientID = c.ClientID
	}
	old, err := api.ListSecrets(ctx, ready.ClientID)
	if err != nil {
		return Ready{}, err
	}
	for _, s := range old {
		if s.Description == secretDescription {
			if err := api.DeleteSecret(ctx, ready.ClientID, s.ID); err != nil {
				return Ready{}, err
			}
		}
	}
	value := make([]byte, 24) // 32 characters, the longest secret the service takes
	_, _ = rand.Read(value)
	created, err := api.CreateSecret(ctx, ready.ClientID, base64.RawURLEncoding.EncodeToString(value), secretDescription, nil)
	if err != nil {
		return Ready{}, fmt.Errorf("giving the authorizer's client a secret: %w", err)
	}
	ready.Secret = created.Value
	if _, err := api.Grant(ctx, wire.Policy{Subject: subject.ID(subject.Client, ready.ClientID), Action: "iam.decision.check",
		Scope: "/apis/" + ready.APIID}); err != nil {
		return Ready{}, fmt.Errorf("letting the authorizer ask for decisions: %w", err)
	}
	return ready, nil
}

// ensureAPI returns the id of the API registered as Identifier,
// registering it when absent.
func ensureAPI(ctx context.Context, admin apiclient.Credentials, hc *http.Client) (string, error) {
	cc := clientcredentials.Config{ClientID: admin.ClientID, ClientSecret: admin.ClientSecret, TokenURL: admin.TokenEndpoint(),
		Scopes: []string{"services.iam"}}
	if hc != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	}
	client := cc.Client(ctx)
	base := strings.TrimSuffix(admin.BaseURL, "/")
	next := base + "/v1/apis?pageSize=200"
	for next != "" {
		var page struct {
			Items []struct {
				APIID      string `json:"apiId"`
				Identifier string `json:"identifier"`
			} `json:"items"`
			Links struct {
				Next *string `json:"next"`
			} `json:"links"`
		}
		if err := call(ctx, client, http.MethodGet, next, nil, &page); err != nil {
			return "", err
		}
		for _, it := range page.Items {
			if it.Identifier == Identifier {
				return it.APIID, nil
			}
		}
		next = ""
		if page.Links.Next != nil {
			u, err := url.Parse(base)
			if err != nil {
				return "", err
			}
			n, err := u.Parse(*page.Links.Next)
			if err != nil {
				return "", err
			}
			next = n.String()
		}
	}
	var created struct {
		APIID string `json:"apiId"`
	}
	if err := call(ctx, client, http.MethodPost, base+"/v1/apis", apiBody, &created); err != nil {
		return "", fmt.Errorf("registering %s: %w", Identifier, err)
	}
	return created.APIID, nil
}

func call(ctx context.Context, client *http.Client, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s %s", method, url, resp.Status, raw)
	}
	return json.Unmarshal(raw, out)
}

// Gateway serves the example's template (under root) trusting issuer, the
// service at base, with its Lambda authorizer running in this process as
// ready's client. Without a client (the tenant could not be readied) the
// authorizer fails every request, closed, as an unreachable service would.
func Gateway(ctx context.Context, root, issuer, base string, ready Ready, log *slog.Logger) (*gateway.Gateway, error) {
	tmpl, err := samtemplate.Read(filepath.Join(root, "examples", "protected-api", "template.yaml"))
	if err != nil {
		return nil, err
	}
	tmpl.Overrides = map[string]string{"IssuerUrl": issuer, "IamBaseUrl": base, "AuthorizerClientId": ready.ClientID,
		"AuthorizerSecretArn": localSecretArn}
	handlers := map[string]http.Handler{"HelloFunction": hello.Handler()}
	if ready.ClientID == "" {
		unready := func(context.Context, json.RawMessage) (any, error) {
			return nil, errors.New("the tenant was not readied for the example")
		}
		return gateway.NewWithAuthorizers(tmpl, handlers, map[string]lambda.Handler{"AuthorizerFunction": lambda.NewHandler(unready)})
	}
	env, err := tmpl.Environment("AuthorizerFunction")
	if err != nil {
		return nil, err
	}
	secrets := func(_ context.Context, arn string) (string, error) {
		if arn != localSecretArn {
			return "", fmt.Errorf("no local secret %s", arn)
		}
		return ready.Secret, nil
	}
	cfg, err := authorizer.ConfigFromEnv(ctx, func(k string) string { return env[k] }, secrets)
	if err != nil {
		return nil, err
	}
	cfg.Log = log
	az, err := authorizer.New(cfg)
	if err != nil {
		return nil, err
	}
	return gateway.NewWithAuthorizers(tmpl, handlers, map[string]lambda.Handler{"AuthorizerFunction": lambda.NewHandler(az.Lambda)})
}
