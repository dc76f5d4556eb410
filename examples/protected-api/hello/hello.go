// Package hello is the example resource server's handler: behind an API
// Gateway JWT authorizer that trusts machine-iam, it answers with the claims
// the authorizer passed on, so a caller sees what the API knows about it.
package hello

import (
	"encoding/json"
	"net/http"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"
)

// Response is what GET /hello answers.
type Response struct {
	Message string            `json:"message"`
	Claims  map[string]string `json:"claims"`
}

// Handler serves GET /hello.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var claims map[string]string
		if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && gw.Authorizer != nil && gw.Authorizer.JWT != nil {
			claims = gw.Authorizer.JWT.Claims
		}
		w.Header().Set("Content-Type", "application/json")
		if claims == nil {
			// Only a route without an authorizer gets here.
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"message": "Unauthorized"})
			return
		}
		_ = json.NewEncoder(w).Encode(Response{Message: "Hello, " + claims["sub"], Claims: claims})
	})
}
