package integration

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
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
	t.Run("a rename", func(t *testing.T) {
		// A replace without If-Match that changes no right: the decision's
		// two reads, then one write with no read before it.
		env.calls.reset()
		if r := send(t, http.MethodPut, "/v1/clients/"+id, admin, clientBody("cost-renamed")); r.Status != http.StatusOK {
			t.Fatal(r)
		}
		if got := env.calls.snapshot(); !maps.Equal(got, map[string]int{"DynamoDB:Query": 1, "DynamoDB:GetItem": 1, "DynamoDB:UpdateItem": 1}) {
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

// TestSecretTagsBoundHashWork: with tags, a wrong secret costs one argon2
// verification however many secrets the client has. A secret stored
// without a tag (made before tags) is verified besides, until its first
// successful use, which remembers its tag with one more write.
func TestSecretTagsBoundHashWork(t *testing.T) {
	admin := adminToken(t)
	id0, value := newClient(t, admin, "tags-twenty")
	for i := 1; i < secret.MaxPerClient; i++ {
		body := map[string]any{"value": fmt.Sprintf("tagged-secret-%02d", i), "description": "more"}
		if r := send(t, http.MethodPost, "/v1/clients/"+id0+"/secrets", admin, body); r.Status != http.StatusCreated {
			t.Fatal(r)
		}
	}
	work := func(clientID, value string, status int) int64 {
		t.Helper()
		before := env.hashes.verifies.Load()
		if r := send(t, http.MethodPost, "/connect/token", "", tokenForm(clientID, value)); r.Status != status {
			t.Fatal(r)
		}
		return env.hashes.verifies.Load() - before
	}
	// Tags are 12 bits: a presented value is verified against the stored
	// secrets sharing its tag (about one client in 200 with twenty secrets
	// has such a pair) until one matches, and against a decoy when none
	// shares it.
	values := []string{value}
	for i := 1; i < secret.MaxPerClient; i++ {
		values = append(values, fmt.Sprintf("tagged-secret-%02d", i))
	}
	tags := env.svc.Deps["TokenFunction"].Tags
	want := func(presented string) int64 {
		n := int64(0)
		for _, v := range values {
			if tags.Tag(tenant.Default, id0, v) == tags.Tag(tenant.Default, id0, presented) {
				n++
			}
		}
		return max(n, 1)
	}
	for _, c := range []struct {
		name, value string
		status      int
	}{{"wrong value", "wrong-value", 401}, {"the last one", "tagged-secret-19", 200}, {"the first one", value, 200}} {
		n, w := work(id0, c.value, c.status), want(c.value)
		if n > w || n < 1 || (c.status == 401 && n != w) {
			t.Errorf("twenty tagged secrets, %s: %d verifications, want %d (the secrets sharing its tag)", c.name, n, w)
		}
	}

	id1, _ := newClient(t, admin, "tags-legacy")
	var legacy []string
	for i := range 2 {
		value := fmt.Sprintf("made-before-tags-%d", i)
		hash, err := testHasher.Hash(value)
		if err != nil {
			t.Fatal(err)
		}
		old := secret.Hashed{Secret: secret.Secret{ID: id.New(), Description: "old", CreatedAt: time.Now().UTC().Truncate(time.Second)}, Hash: hash}
		if err := env.svc.Store().CreateSecret(context.Background(), tenant.Default, id1, old, secret.MaxPerClient); err != nil {
			t.Fatal(err)
		}
		legacy = append(legacy, value)
	}
	if n := work(id1, "wrong-value", 401); n != 2 {
		t.Errorf("two untagged secrets beside a tagged one, wrong value: %d verifications, want 2", n)
	}
	env.calls.reset()
	if n := work(id1, legacy[0], 200); n == 0 {
		t.Error("an untagged secret's first use must be verified")
	}
	if got := env.calls.snapshot(); got["DynamoDB:UpdateItem"] != 4 {
		t.Errorf("calls = %v, want the attempt counted and given back, the tag remembered and the first use noted", got)
	}
	if n := work(id1, "wrong-value", 401); n != 1 {
		t.Errorf("after one untagged secret's use, wrong value: %d verifications, want 1", n)
	}
	if n := work(id1, legacy[0], 200); n != 0 {
		t.Errorf("warm repeat: %d verifications", n)
	}
}
