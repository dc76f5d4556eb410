package authorizer_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/machine-iam/machine-iam/shared/edge/authorizer"
)

// A net/http resource server enforces the tenant's policies with the
// middleware: each route of the table needs an OAuth scope in the token and
// an allow from the service for its action on its resource.
func ExampleAuthorizer_Middleware() {
	// A stand-in for the service: its issuer, the API's own client, and a
	// caller's token. In a real server these come from configuration.
	svc, stop := authorizer.StartStandIn()
	defer stop()

	routes, err := authorizer.ParseRoutes([]byte(`{
		"GET /orders/{orderId}": {"scope": "orders.read", "action": "orders.order.read", "resource": "/orders/{orderId}"}
	}`))
	if err != nil {
		log.Fatal(err)
	}
	az, err := authorizer.New(authorizer.Config{
		Issuer:      svc.Issuer,                 // the tenant's issuer, exactly as its tokens' iss
		Audience:    "https://api.example.test", // this API's registered identifier
		BaseURL:     svc.Issuer,                 // the service's base URL, where /v1/decisions is
		Credentials: authorizer.Credentials{ClientID: svc.ClientID, Secret: svc.Secret},
		Routes:      routes,
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{orderId}", func(w http.ResponseWriter, r *http.Request) {
		d, _ := authorizer.FromContext(r.Context())
		fmt.Fprintf(w, "order %s for %s", r.PathValue("orderId"), d.Claims.Subject)
	})
	api := httptest.NewServer(az.Middleware(mux))
	defer api.Close()

	for _, path := range []string{"/orders/1", "/orders/2"} {
		req, _ := http.NewRequest(http.MethodGet, api.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+svc.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body = nil
		}
		fmt.Println(path, resp.StatusCode, string(body))
	}
	// Output:
	// /orders/1 200 order 1 for client-caller
	// /orders/2 403
}
