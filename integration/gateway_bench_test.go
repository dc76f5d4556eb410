package integration

import (
	"net/http"
	"net/url"
	"testing"
)

// BenchmarkGatewayToken sends token requests through the whole local path:
// HTTP server, gateway event conversion, Lambda adapter, handler, and the
// SDK's calls to DynamoDB Local and local-kms. Profile it with -cpuprofile
// to see what a token costs in the gateway process.
func BenchmarkGatewayToken(b *testing.B) {
	t := &testing.T{}
	admin := adminToken(t)
	id, value := newClient(t, admin, "bench-gateway")
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {value}}
	b.ReportAllocs()
	for b.Loop() {
		if r := send(t, http.MethodPost, "/connect/token", "", form); r.Status != 200 {
			b.Fatal(r)
		}
	}
}
