package ststest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
)

// Encode is a signed request as a client_assertion.
func Encode(method, url string, headers http.Header, body string) (string, error) {
	b, err := json.Marshal(map[string]any{"method": method, "url": url, "headers": headers, "body": body})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
