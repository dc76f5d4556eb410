// Package oauthscope holds catalogs of OAuth scopes: the values a client may
// be allowed (allowedScopes) and may request at the token endpoint. A
// tenant's catalog is built from the deployment's declared APIs and the APIs
// the tenant registers (package apis).
package oauthscope
