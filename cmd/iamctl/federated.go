package main

import (
	"context"
	"encoding/json"

	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// federatedTable shows a federated credential by what it trusts: the
// issuer and subject, or the AWS principal.
var federatedTable = table[wire.FederatedCredential]{[]string{"CREDENTIAL ID", "TYPE", "TRUSTS", "SUBJECT / ROLE ID", "DESCRIPTION", "CREATED", "LAST USED"},
	func(c wire.FederatedCredential) []string {
		if c.Type == "aws" {
			return []string{c.ID, c.Type, c.Principal, orDash(c.RoleID), c.Description, c.CreatedAt, orNever(c.LastUsedAt)}
		}
		return []string{c.ID, c.Type, c.Issuer, c.Subject, c.Description, c.CreatedAt, orNever(c.LastUsedAt)}
	}}

var (
	federatedList = readCommand(federatedTable, func(ctx context.Context, api *apiclient.Client, pos []string) (any, []wire.FederatedCredential, error) {
		return all(api.ListFederatedCredentials(ctx, pos[0]))
	})
	federatedDelete = idCommand(func(ctx context.Context, api *apiclient.Client, pos []string) error {
		return api.DeleteFederatedCredential(ctx, pos[0], pos[1])
	})
)

func federatedAdd(f *flags) runner {
	desc := f.String("description", "", "description (1-200 characters)")
	issuer := f.String("issuer", "", "OIDC issuer URL, exactly as its tokens' iss")
	subject := f.String("subject", "", `subject to accept, exactly or with "*" for one part (docs/federation.md)`)
	audience := f.String("audience", "", "audience the tokens must carry (default: the tenant's issuer)")
	jwksFile := f.String("jwks", "", "file holding the issuer's JWKS, for an issuer whose keys cannot be fetched (- for standard input)")
	var claims stringList
	f.Var(&claims, "claim", "claim NAME=VALUE the token must carry (repeatable)")
	principal := f.String("aws-principal", "", "AWS IAM role or user ARN to accept (arn:aws:iam::ACCOUNT:role/NAME)")
	roleID := f.String("aws-role-id", "", "the role's unique id (AROA...), so a re-created role of the same name is refused")
	return func(ctx context.Context, cio cmdIO, pos []string) error {
		body := wire.FederatedCredentialRequest{Description: desc, Issuer: *issuer, Subject: *subject, Audience: *audience,
			Principal: *principal, RoleID: *roleID}
		typ := "oidc"
		switch {
		case *principal != "" && *issuer != "":
			return usagef("give --issuer (OIDC) or --aws-principal (AWS), not both")
		case *principal != "":
			typ = "aws"
		case *issuer == "" || *subject == "":
			return usagef("--issuer and --subject are required (or --aws-principal)")
		}
		body.Type = &typ
		if len(claims) > 0 {
			m, err := keyValues("claim", claims)
			if err != nil {
				return err
			}
			body.Claims = m
		}
		if *jwksFile != "" {
			jwks, err := readInput(cio, *jwksFile, 64<<10)
			if err != nil {
				return err
			}
			if !json.Valid(jwks) {
				return usagef("--jwks %s does not hold JSON", *jwksFile)
			}
			body.JWKS = jwks
		}
		api, err := f.api(ctx)
		if err != nil {
			return err
		}
		c, err := api.CreateFederatedCredential(ctx, pos[0], body)
		if err != nil {
			return err
		}
		return federatedTable.print(f, cio.stdout, c, c)
	}
}
