// Package httpapi holds the HTTP plumbing every function shares: one error
// value and one writer for problem+json (RFC 9457) and OAuth (RFC 6749 §5.2)
// error bodies, strict JSON decoding with size limits, and a router that
// answers unknown paths with 404 and wrong methods with 405 and Allow.
package httpapi
