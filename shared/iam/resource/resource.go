// Package resource holds resource scopes: the resource URIs policies are
// granted on ("/" is the tenant root, "/clients/{id}", "/subscriptions/12",
// ...), which the API calls a policy's "scope". A scope covers itself and
// every descendant, compared segment by segment, so /subscriptions/12 does
// not cover /subscriptions/123. These are not OAuth scopes; those are in
// package oauthscope.
package resource

import (
	"errors"
	"strings"
)

// Root is the tenant root; it covers every scope.
const Root = "/"

// MaxLength is the longest scope accepted.
const MaxLength = 512

// Normalize returns the canonical form of s, dropping one trailing slash,
// or an error saying why s is not a scope: it must start with "/", have no
// empty, "." or ".." segments, no whitespace, control characters, '?' or
// '#', and be at most MaxLength characters.
func Normalize(s string) (string, error) {
	if len(s) > MaxLength {
		return "", errors.New("must be at most 512 characters")
	}
	if !strings.HasPrefix(s, "/") {
		return "", errors.New("must start with /")
	}
	if s == Root {
		return Root, nil
	}
	s = strings.TrimSuffix(s, "/")
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '?' || r == '#' || r == '\\' {
			return "", errors.New("must not contain whitespace, control characters, ?, # or \\")
		}
	}
	for _, seg := range strings.Split(s[1:], "/") {
		switch seg {
		case "":
			return "", errors.New("must not have empty segments")
		case ".", "..":
			return "", errors.New("must not have . or .. segments")
		}
	}
	return s, nil
}

// Covers reports whether a policy on granted applies to requested; both
// must be normalized.
func Covers(granted, requested string) bool {
	return granted == Root || granted == requested || strings.HasPrefix(requested, granted+"/")
}

// Ancestors returns s and every scope above it up to the root, nearest
// first: the scopes whose policies cover s. s must be normalized.
func Ancestors(s string) []string {
	out := []string{s}
	for s != Root {
		i := strings.LastIndexByte(s, '/')
		if i == 0 {
			s = Root
		} else {
			s = s[:i]
		}
		out = append(out, s)
	}
	return out
}
