package integration

import (
	"maps"
	"net/http"
	"net/url"
	"testing"
)

// TestTokenRequestCost counts, with SDK middleware, the requests one token
// request sends: two DynamoDB Queries at once (the client's credentials, its
// token partition's attempt and revocation counts) and one KMS Sign for a
// secret the process verified before; the first verification in a process
// also counts the attempt before its hash work and gives it back after.
func TestTokenRequestCost(t *testing.T) {
	admin := adminToken(t)
	id, value := newClient(t, admin, "cost")
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {value}}
	for _, round := range []struct {
		name string
		want map[string]int
	}{
		// The first use also notes the secret's lastUsedAt (at most once
		// an hour); the next ones within the hour write nothing.
		{"cold cache", map[string]int{"DynamoDB:Query": 2, "DynamoDB:UpdateItem": 3, "KMS:Sign": 1}},
		{"warm cache", map[string]int{"DynamoDB:Query": 2, "KMS:Sign": 1}},
		{"warm cache again", map[string]int{"DynamoDB:Query": 2, "KMS:Sign": 1}},
	} {
		env.calls.reset()
		if r := send(t, http.MethodPost, "/connect/token", "", form); r.Status != http.StatusOK {
			t.Fatal(r)
		}
		if got := env.calls.snapshot(); !maps.Equal(got, round.want) {
			t.Errorf("%s: calls = %v, want %v", round.name, got, round.want)
		}
	}
	t.Run("failed authentication", func(t *testing.T) {
		env.calls.reset()
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {"wrong-value"}}
		if r := send(t, http.MethodPost, "/connect/token", "", form); r.Status != http.StatusUnauthorized {
			t.Fatal(r)
		}
		if got := env.calls.snapshot(); !maps.Equal(got, map[string]int{"DynamoDB:Query": 2, "DynamoDB:UpdateItem": 1}) {
			t.Errorf("calls = %v, want the two reads, the failure count, and no signature", got)
		}
	})
	t.Run("an authorized management read", func(t *testing.T) {
		// Tokens are verified in-process (no KMS); the decision is one
		// Query of the caller's partition (the admin is in no group) and,
		// beside it, one GetItem for the token's revocation; the read is
		// one GetItem.
		env.calls.reset()
		if r := send(t, http.MethodGet, "/v1/clients/"+id, admin, nil); r.Status != http.StatusOK {
			t.Fatal(r)
		}
		if got := env.calls.snapshot(); !maps.Equal(got, map[string]int{"DynamoDB:Query": 1, "DynamoDB:GetItem": 2}) {
			t.Errorf("calls = %v", got)
		}
	})
}

// TestEqualHashWork counts argon2 verifications: an unknown client, a known
// client with a wrong secret, and a client whose only secret expired all do
// the same work; a warm repeated request does none.
func TestEqualHashWork(t *testing.T) {
	admin := adminToken(t)
	id, value := newClient(t, admin, "equal-work")
	work := func(clientID, secret string, status int) int64 {
		t.Helper()
		before := env.hashes.verifies.Load()
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
		if r := send(t, http.MethodPost, "/connect/token", "", form); r.Status != status {
			t.Fatal(r)
		}
		return env.hashes.verifies.Load() - before
	}
	unknown := work("00000000-0000-4000-8000-000000000000", "wrong-value", 401)
	malformed := work("not-an-id", "wrong-value", 401)
	wrong := work(id, "wrong-value", 401)
	if unknown != 1 || malformed != 1 || wrong != 1 {
		t.Errorf("argon2 verifications: unknown %d, malformed id %d, wrong secret %d; want 1 each", unknown, malformed, wrong)
	}
	if first := work(id, value, 200); first != 1 {
		t.Errorf("first success: %d verifications, want 1", first)
	}
	if warm := work(id, value, 200); warm != 0 {
		t.Errorf("warm repeated request: %d verifications, want 0", warm)
	}
}
