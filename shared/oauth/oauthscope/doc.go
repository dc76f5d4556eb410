// Package oauthscope holds the deployment's catalog of OAuth scopes: the
// values a client may be allowed (allowedScopes) and may request at the token
// endpoint. The catalog is the data file catalog.json, embedded at build time
// so that every function of one deployment agrees on it.
package oauthscope
