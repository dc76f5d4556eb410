package main

import (
	"context"
	"time"

	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
)

// unusedCredential is one row of credentials unused: a secret, key or
// federated credential that has not authenticated its client for the given time (or, never used,
// was created longer ago than that).
type unusedCredential struct {
	ClientID    string  `json:"clientId"`
	ClientName  string  `json:"clientName"`
	Kind        string  `json:"kind"` // "secret", "key" or "federated"
	ID          string  `json:"id"`
	Description string  `json:"description"`
	CreatedAt   string  `json:"createdAt"`
	LastUsedAt  *string `json:"lastUsedAt"`
}

var unusedTable = table[unusedCredential]{[]string{"CLIENT ID", "CLIENT", "KIND", "ID", "DESCRIPTION", "CREATED", "LAST USED"},
	func(u unusedCredential) []string {
		return []string{u.ClientID, u.ClientName, u.Kind, u.ID, u.Description, u.CreatedAt, orNever(u.LastUsedAt)}
	}}

// orNever is a last-use time, or "never".
func orNever(t *string) string {
	if t == nil {
		return "never"
	}
	return *t
}

func credentialsUnused(f *flags) runner {
	days := f.Int("days", 90, "how long without a use makes a credential unused")
	return func(ctx context.Context, cio cmdIO, pos []string) error {
		if *days < 1 {
			return usageError{"--days must be at least 1"}
		}
		return readCommand(unusedTable, func(ctx context.Context, api *apiclient.Client, _ []string) (any, []unusedCredential, error) {
			return all(unusedCredentials(ctx, api, time.Now().AddDate(0, 0, -*days)))
		})(f)(ctx, cio, pos)
	}
}

// unusedCredentials walks every client of the tenant and keeps the
// credentials last used (or, never used, created) before cutoff.
func unusedCredentials(ctx context.Context, api *apiclient.Client, cutoff time.Time) ([]unusedCredential, error) {
	clients, err := api.ListClients(ctx, "")
	if err != nil {
		return nil, err
	}
	stale := func(created string, lastUsed *string) bool {
		at := created
		if lastUsed != nil {
			at = *lastUsed
		}
		t, err := time.Parse(time.RFC3339, at)
		return err == nil && t.Before(cutoff)
	}
	out := []unusedCredential{}
	for _, c := range clients {
		keep := func(kind, id, description, created string, lastUsed *string) {
			if stale(created, lastUsed) {
				out = append(out, unusedCredential{c.ClientID, c.Name, kind, id, description, created, lastUsed})
			}
		}
		secrets, err := api.ListSecrets(ctx, c.ClientID)
		if err != nil {
			return nil, err
		}
		for _, s := range secrets {
			keep("secret", s.ID, s.Description, s.CreatedAt, s.LastUsedAt)
		}
		keys, err := api.ListKeys(ctx, c.ClientID)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			keep("key", k.ID, k.Description, k.CreatedAt, k.LastUsedAt)
		}
		federated, err := api.ListFederatedCredentials(ctx, c.ClientID)
		if err != nil {
			return nil, err
		}
		for _, fc := range federated {
			keep("federated", fc.ID, fc.Description, fc.CreatedAt, fc.LastUsedAt)
		}
	}
	return out, nil
}
