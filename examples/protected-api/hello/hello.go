// Package hello is the example resource server's handler. Behind API
// Gateway it answers with what the authorizers passed on, so a caller sees
// what the API knows about it: GET /hello sits behind a JWT authorizer that
// trusts machine-iam, GET /orders/{orderId} behind the machine-iam Lambda
// authorizer, which asked the service for a decision.
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

// Order is what GET /orders/{orderId} answers: the order asked for, and
// the claims and decision the Lambda authorizer passed on.
type Order struct {
	OrderID    string         `json:"orderId"`
	Caller     any            `json:"caller"`
	Authorizer map[string]any `json:"authorizer"`
}

// Handler serves GET /hello and GET /orders/{orderId}.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		var claims map[string]string
		if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && gw.Authorizer != nil && gw.Authorizer.JWT != nil {
			claims = gw.Authorizer.JWT.Claims
		}
		if claims == nil {
			unauthorized(w)
			return
		}
		writeJSON(w, Response{Message: "Hello, " + claims["sub"], Claims: claims})
	})
	mux.HandleFunc("GET /orders/{orderId}", func(w http.ResponseWriter, r *http.Request) {
		var authz map[string]any
		if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && gw.Authorizer != nil {
			authz = gw.Authorizer.Lambda
		}
		if authz == nil {
			unauthorized(w)
			return
		}
		writeJSON(w, Order{OrderID: r.PathValue("orderId"), Caller: authz["sub"], Authorizer: authz})
	})
	return mux
}

// unauthorized answers a request no authorizer vouched for: only a route
// deployed without one gets here.
func unauthorized(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": "Unauthorized"})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
