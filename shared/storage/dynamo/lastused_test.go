package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/oauth/federation"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// TestFederatedLastUsed: a federated credential's recorded use shows in
// the listing and in the federated token path's record, and a second use
// within store.UseGranularity changes nothing.
func TestFederatedLastUsed(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	c := newClient(t, ten)
	used, spare := federation.Credential{ID: id.New(), Type: federation.TypeAWS, Principal: "arn:aws:iam::123456789012:role/deploy",
		Description: "used", CreatedAt: now}, federation.Credential{ID: id.New(), Type: federation.TypeAWS,
		Principal: "arn:aws:iam::123456789012:role/spare", Description: "spare", CreatedAt: now}
	for _, fc := range []federation.Credential{used, spare} {
		is(t, st.CreateFederatedCredential(ctx, ten, c.ID, fc, federation.MaxPerClient), nil)
	}
	window := now.Truncate(time.Minute)
	lastUsed := func() map[string]*time.Time {
		t.Helper()
		list, err := st.ListFederatedCredentials(ctx, ten, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := st.GetFederationRecord(ctx, ten, c.ID, "ADDR#192.0.2.1", "192.0.2.1", window)
		if err != nil || len(rec.Federated) != len(list) {
			t.Fatalf("%+v %v", rec, err)
		}
		out := map[string]*time.Time{}
		for i, fc := range list {
			if a, b := fc.LastUsedAt, rec.Federated[i].LastUsedAt; (a == nil) != (b == nil) || (a != nil && !a.Equal(*b)) {
				t.Errorf("listing %v and token path %v disagree", a, b)
			}
			out[fc.ID] = fc.LastUsedAt
		}
		return out
	}
	if got := lastUsed(); got[used.ID] != nil || got[spare.ID] != nil {
		t.Fatalf("last uses before any: %v", got)
	}
	is(t, st.RecordUse(ctx, ten, c.ID, store.Credential{FederatedID: used.ID}, now), nil)
	got := lastUsed()
	if got[used.ID] == nil || !got[used.ID].Equal(now) || got[spare.ID] != nil {
		t.Fatalf("after a use: %v", got)
	}
	is(t, st.RecordUse(ctx, ten, c.ID, store.Credential{FederatedID: used.ID}, now.Add(store.UseGranularity/2)), nil)
	if got := lastUsed(); !got[used.ID].Equal(now) {
		t.Errorf("moved within the granularity: %v", got[used.ID])
	}
	later := now.Add(store.UseGranularity + time.Minute)
	is(t, st.RecordUse(ctx, ten, c.ID, store.Credential{FederatedID: used.ID}, later), nil)
	if got := lastUsed(); !got[used.ID].Equal(later) {
		t.Errorf("after the granularity: %v, want %s", got[used.ID], later)
	}
}
