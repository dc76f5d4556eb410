package dynamo_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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

// TestTrustedByStaysOutOfTheClientsReads: however many credentials of
// another tenant trust a client, its token endpoint Query (its A# items)
// and its decisions' Query (its grants up to its own item) read none of
// their records, and TrustedBy reads at most one per audience.
func TestTrustedByStaysOutOfTheClientsReads(t *testing.T) {
	ctx, victimTenant, otherTenant := context.Background(), tenant(t), tenant(t)+"o"
	victim := newClient(t, victimTenant)
	aud := "https://id.example.com/" + otherTenant
	for range 3 {
		truster := newClient(t, otherTenant)
		for range 5 {
			c := federation.Credential{ID: id.New(), Type: federation.TypeOIDC, Issuer: "https://id.example.com/" + victimTenant,
				Subject: victim.SubjectID(), Audience: aud, TrustedTenant: victimTenant, TrustedSubject: victim.SubjectID(), CreatedAt: now}
			is(t, st.CreateFederatedCredential(ctx, otherTenant, truster.ID, c, federation.MaxPerClient), nil)
		}
	}
	out, err := ddb.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "T#" + victimTenant + "#S#" + victim.SubjectID()}}})
	if err != nil {
		t.Fatal(err)
	}
	trustedBy := 0
	for _, it := range out.Items {
		sk := it["SK"].(*types.AttributeValueMemberS).Value
		if strings.Contains(sk, "TRUSTEDBY") {
			trustedBy++
			if strings.HasPrefix(sk, "A#") || (sk >= "A!GRANTS" && sk <= "A#CLIENT") {
				t.Errorf("trusted-by item %s lies in the range the client's own reads cover", sk)
			}
		}
	}
	if trustedBy != 15 {
		t.Fatalf("%d trusted-by items in the client's partition, want 15", trustedBy)
	}
	got, err := st.TrustedBy(ctx, victimTenant, victim.ID, []string{aud, aud, "https://api.example.com"})
	if err != nil || len(got) != 1 || !strings.HasPrefix(got[0], otherTenant+"/client-") {
		t.Errorf("TrustedBy = %v, %v: want one trusting client of %s (one item read for the one audience with any)", got, err, otherTenant)
	}
	if got, err := st.TrustedBy(ctx, victimTenant, victim.ID, []string{"https://api.example.com"}); err != nil || len(got) != 0 {
		t.Errorf("TrustedBy for an audience no credential names = %v, %v", got, err)
	}
}
