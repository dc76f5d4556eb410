package dynamo_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/local/samtemplate"
	"github.com/machine-iam/machine-iam/local/stack"
	"github.com/machine-iam/machine-iam/shared/iam/group"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/lockout"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	"github.com/machine-iam/machine-iam/shared/storage/dynamo"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// The storage contract (package store), run against DynamoDB Local with
// the table template.yaml defines: every method, every sentinel error and
// every conditional path.

var (
	st    *dynamo.Store
	ddb   *dynamodb.Client
	table string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	s, err := stack.Start(ctx, stack.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "store tests: cannot start DynamoDB Local:", err)
		return 1
	}
	defer s.Stop()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(stack.Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(stack.AccessKeyID, stack.SecretAccessKey, "")))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ddb = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(s.DynamoDBEndpoint)
		o.DisableValidateResponseChecksum = true
	})
	root, err := stack.FindRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tmpl, err := samtemplate.Read(root + "/template.yaml")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if table, err = stack.CreateTable(ctx, tmpl, ddb); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	st = dynamo.New(ddb, table)
	return m.Run()
}

var _ store.Store = (*dynamo.Store)(nil)

var now = time.Now().UTC().Truncate(time.Second)

// tenant returns a tenant name of its own for each test.
func tenant(t *testing.T) string {
	return fmt.Sprintf("t%d", time.Now().UnixNano())
}

func newClient(t *testing.T, ten string, scopes ...string) client.Client {
	t.Helper()
	c := client.Client{Tenant: ten, ID: id.New(), Spec: client.Spec{Name: "c-" + id.New()[:8], Description: "d", GrantTypes: []string{client.GrantClientCredentials}, Scopes: scopes, RedirectURIs: []string{}}, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := st.CreateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func newGroup(t *testing.T, ten string) group.Group {
	t.Helper()
	g := group.Group{Tenant: ten, ID: id.New(), DisplayName: "g-" + id.New()[:8], CreatedAt: now}
	if err := st.CreateGroup(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	return g
}

func hashed(n int) secret.Hashed {
	return secret.Hashed{Secret: secret.Secret{ID: id.New(), Description: fmt.Sprint("s", n), CreatedAt: now.Add(time.Duration(n) * time.Second)}, Hash: "$argon2id$x"}
}

func is(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func TestTenants(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	if ok, err := st.TenantExists(ctx, ten); ok || err != nil {
		t.Fatal(ok, err)
	}
	is(t, st.CreateTenant(ctx, ten), nil)
	is(t, st.CreateTenant(ctx, ten), store.ErrConflict)
	if ok, err := st.TenantExists(ctx, ten); !ok || err != nil {
		t.Fatal(ok, err)
	}
}

func TestClients(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	c := newClient(t, ten, "api")
	is(t, st.CreateClient(ctx, c), store.ErrConflict)
	got, err := st.GetClient(ctx, ten, c.ID)
	if err != nil || got.Name != c.Name || got.Version != 1 || !slices.Equal(got.Scopes, []string{"api"}) {
		t.Fatalf("%+v %v", got, err)
	}
	_, err = st.GetClient(ctx, ten, id.New())
	is(t, err, store.ErrNotFound)
	_, err = st.GetClient(ctx, tenant(t), c.ID) // another tenant
	is(t, err, store.ErrNotFound)

	c.Name = "renamed"
	v2, err := st.ReplaceClient(ctx, c, store.ReplaceCondition{})
	if err != nil || v2.Version != 2 || v2.Name != "renamed" {
		t.Fatalf("%+v %v", v2, err)
	}
	_, err = st.ReplaceClient(ctx, c, store.ReplaceCondition{Version: 1})
	is(t, err, store.ErrVersionMismatch)
	v3, err := st.ReplaceClient(ctx, c, store.ReplaceCondition{Version: 2})
	if err != nil || v3.Version != 3 {
		t.Fatalf("%+v %v", v3, err)
	}
	missing := c
	missing.ID = id.New()
	_, err = st.ReplaceClient(ctx, missing, store.ReplaceCondition{})
	is(t, err, store.ErrNotFound)
	_, err = st.RenameClient(ctx, missing)
	is(t, err, store.ErrNotFound)

	// A rename carrying a stale record (scopes read before a narrowing)
	// is refused: the narrowing stays, and the caller learns the rights
	// it carries are not the stored ones. One carrying the stored rights
	// writes only the neutral fields, on no version.
	stale := v3
	narrowed := v3
	narrowed.Scopes = nil
	if _, err := st.ReplaceClient(ctx, narrowed, store.ReplaceCondition{Version: v3.Version}); err != nil {
		t.Fatal(err)
	}
	stale.Name, stale.Description = "renamed again", "new description"
	_, err = st.RenameClient(ctx, stale)
	is(t, err, store.ErrVersionMismatch)
	if got, err := st.GetClient(ctx, ten, c.ID); err != nil || got.Version != 4 || len(got.Scopes) != 0 || got.Name == "renamed again" {
		t.Fatalf("a refused rename changed the client: %+v %v", got, err)
	}
	narrowed.Name, narrowed.Description = "renamed again", "new description"
	v5, err := st.RenameClient(ctx, narrowed)
	if err != nil || v5.Version != 5 || v5.Name != "renamed again" || v5.Description != "new description" || len(v5.Scopes) != 0 {
		t.Fatalf("rename: %+v %v", v5, err)
	}

	other := newClient(t, ten)
	list, err := st.ListClients(ctx, ten, store.PageQuery{Limit: 10})
	if err != nil || len(list.Items) != 2 || list.Items[0].ID == list.Items[1].ID {
		t.Fatalf("%v %v", list, err)
	}
	is(t, st.DeleteClient(ctx, ten, other.ID), nil)
	is(t, st.DeleteClient(ctx, ten, other.ID), store.ErrNotFound)
	_, err = st.GetClient(ctx, ten, other.ID)
	is(t, err, store.ErrNotFound)
}

func TestSecretsAndCredentials(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	c := newClient(t, ten)
	is(t, st.CreateSecret(ctx, ten, id.New(), hashed(0), 3), store.ErrNotFound)
	first := hashed(1)
	for i, sec := range []secret.Hashed{first, hashed(2), hashed(3)} {
		if err := st.CreateSecret(ctx, ten, c.ID, sec, 3); err != nil {
			t.Fatalf("secret %d: %v", i, err)
		}
	}
	is(t, st.CreateSecret(ctx, ten, c.ID, hashed(4), 3), store.ErrLimitExceeded)
	list, err := st.ListSecrets(ctx, ten, c.ID)
	if err != nil || len(list) != 3 || list[0].ID != first.ID {
		t.Fatalf("%v %v", list, err)
	}
	_, err = st.ListSecrets(ctx, ten, id.New())
	is(t, err, store.ErrNotFound)
	is(t, st.DeleteSecret(ctx, ten, c.ID, first.ID), nil)
	is(t, st.DeleteSecret(ctx, ten, c.ID, first.ID), store.ErrNotFound)
	is(t, st.CreateSecret(ctx, ten, c.ID, hashed(5), 3), nil) // the count went down

	window := now.Truncate(time.Minute)
	rec, err := st.GetCredentials(ctx, ten, c.ID, "192.0.2.1", window)
	if err != nil || rec.Client == nil || rec.Client.ID != c.ID || len(rec.Secrets) != 3 || rec.Secrets[0].Hash == "" || rec.Attempts != (lockout.Counts{}) {
		t.Fatalf("%+v %v", rec, err)
	}
	unknown, err := st.GetCredentials(ctx, ten, id.New(), "192.0.2.1", window)
	if err != nil || unknown.Client != nil || unknown.Secrets != nil {
		t.Fatalf("%+v %v", unknown, err)
	}

	p := lockout.Limits{Threshold: 2, Ceiling: 3, Window: time.Minute}
	count := func(addr string, n int) error {
		return st.CountAttempt(ctx, store.Attempts{Tenant: ten, Key: c.ID, Address: addr, Window: window}, n, p, window.Add(time.Hour))
	}
	is(t, count("192.0.2.1", 1), nil)
	is(t, count("192.0.2.1", 1), nil)
	is(t, count("192.0.2.1", 1), store.ErrLimitExceeded) // the address's threshold
	is(t, count("192.0.2.2", 2), store.ErrLimitExceeded) // 2 more would pass the ceiling; the address spends them
	is(t, count("192.0.2.2", 1), store.ErrLimitExceeded) // and has none left
	is(t, count("192.0.2.4", 1), nil)                    // the third of the ceiling
	is(t, count("192.0.2.3", 1), store.ErrLimitExceeded) // the ceiling; counted for the address all the same
	counts := func(addr string) lockout.Counts {
		rec, err := st.GetCredentials(ctx, ten, c.ID, addr, window)
		if err != nil {
			t.Fatal(err)
		}
		return rec.Attempts
	}
	if got := counts("192.0.2.1"); got != (lockout.Counts{FromAddress: 2, Total: 3}) {
		t.Errorf("counts %+v", got)
	}
	if got := counts("192.0.2.3"); got != (lockout.Counts{FromAddress: 1, Total: 3}) {
		t.Errorf("a refused attempt at the ceiling must spend its address's budget: %+v", got)
	}
	if got := counts("192.0.2.2"); got != (lockout.Counts{FromAddress: 2, Total: 3}) {
		t.Errorf("counts %+v", got)
	}
	is(t, st.UncountAttempt(ctx, store.Attempts{Tenant: ten, Key: c.ID, Address: "192.0.2.4", Window: window}, 1), nil)
	if got := counts("192.0.2.4"); got != (lockout.Counts{FromAddress: 0, Total: 2}) {
		t.Errorf("after a give-back %+v", got)
	}
	is(t, st.UncountAttempt(ctx, store.Attempts{Tenant: ten, Key: c.ID, Address: "192.0.2.4", Window: window}, 1), nil) // nothing left to give back: no-op
	if got := counts("192.0.2.4"); got != (lockout.Counts{FromAddress: 0, Total: 2}) {
		t.Errorf("a give-back below zero: %+v", got)
	}
	if next, _ := st.GetCredentials(ctx, ten, c.ID, "192.0.2.1", window.Add(time.Minute)); next.Attempts != (lockout.Counts{}) {
		t.Errorf("the next window starts empty: %+v", next.Attempts)
	}
	// A deleting client has no credentials.
	is(t, st.DeleteClient(ctx, ten, c.ID), nil)
	if rec, _ := st.GetCredentials(ctx, ten, c.ID, "192.0.2.1", window); rec.Client != nil || rec.Secrets != nil {
		t.Errorf("deleted client's credentials %+v", rec)
	}
}

func TestPoliciesAndGrants(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	c := newClient(t, ten, "api", "services.iam")
	g := newGroup(t, ten)
	p := policy.Policy{Subject: c.SubjectID(), Action: "iam.client.read", Scope: "/clients", CreatedAt: now}
	stored, created, err := st.PutPolicy(ctx, ten, p)
	if err != nil || !created || stored.Triple() != p.Triple() {
		t.Fatal(stored, created, err)
	}
	again := p
	again.CreatedAt = now.Add(time.Hour)
	stored, created, err = st.PutPolicy(ctx, ten, again)
	if err != nil || created || !stored.CreatedAt.Equal(now) {
		t.Fatalf("a repeated put returns the stored policy: %+v %v %v", stored, created, err)
	}
	_, _, err = st.PutPolicy(ctx, ten, policy.Policy{Subject: "client-" + id.New(), Action: "owner", Scope: "/", CreatedAt: now})
	is(t, err, store.ErrSubjectNotFound)
	_, _, err = st.PutPolicy(ctx, ten, policy.Policy{Subject: "group-" + id.New(), Action: "owner", Scope: "/", CreatedAt: now})
	is(t, err, store.ErrSubjectNotFound)
	user := "user-00000000-0000-4000-8000-000000000001"
	if _, _, err := st.PutPolicy(ctx, ten, policy.Policy{Subject: user, Action: "banking.ais.read", Scope: "/s/1", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	gp := policy.Policy{Subject: "group-" + g.ID, Action: "banking.pis.read", Scope: "/", CreatedAt: now}
	if _, _, err := st.PutPolicy(ctx, ten, gp); err != nil {
		t.Fatal(err)
	}
	is(t, st.AddMember(ctx, ten, g.ID, c.SubjectID(), 10), nil)

	own, err := st.SubjectPolicies(ctx, ten, c.SubjectID())
	if err != nil || len(own) != 1 {
		t.Fatal(own, err)
	}
	all, next, err := st.ListPolicies(ctx, ten, nil, 10, 100, func(policy.Policy) bool { return true })
	if err != nil || len(all) != 3 || next != nil {
		t.Fatal(all, next, err)
	}
	first, next, err := st.ListPolicies(ctx, ten, nil, 2, 100, func(policy.Policy) bool { return true })
	rest, end, _ := st.ListPolicies(ctx, ten, next, 2, 100, func(policy.Policy) bool { return true })
	if err != nil || len(first) != 2 || next == nil || len(rest) != 1 || end != nil || rest[0].Triple() != all[2].Triple() {
		t.Fatal(first, rest, next, end, err)
	}
	// A read that spends its budget before filling the page says where to
	// go on.
	none, next, _ := st.ListPolicies(ctx, ten, nil, 2, 2, func(policy.Policy) bool { return false })
	if len(none) != 0 || next == nil || *next != all[1].Triple() {
		t.Fatal(none, next)
	}
	grants, err := st.Grants(ctx, ten, c.SubjectID())
	if err != nil || len(grants.Direct) != 1 || len(grants.Groups) != 1 || grants.Groups[0].GroupID != g.ID ||
		len(grants.Groups[0].Policies) != 1 || !slices.Equal(grants.OAuthScopes, []string{"api", "services.iam"}) {
		t.Fatalf("%+v %v", grants, err)
	}
	_, err = st.Grants(ctx, ten, "client-"+id.New())
	is(t, err, store.ErrSubjectNotFound)
	if g, err := st.Grants(ctx, ten, user); err != nil || len(g.Direct) != 1 {
		t.Fatalf("a user's grants %+v %v", g, err)
	}
	is(t, st.DeletePolicy(ctx, ten, p.Triple()), nil)
	is(t, st.DeletePolicy(ctx, ten, p.Triple()), store.ErrNotFound)
}

func TestGroups(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	g := newGroup(t, ten)
	is(t, st.CreateGroup(ctx, g), store.ErrConflict)
	if got, err := st.GetGroup(ctx, ten, g.ID); err != nil || got.DisplayName != g.DisplayName {
		t.Fatal(got, err)
	}
	_, err := st.GetGroup(ctx, ten, id.New())
	is(t, err, store.ErrNotFound)
	a, b := newClient(t, ten), newClient(t, ten)
	is(t, st.AddMember(ctx, ten, id.New(), a.SubjectID(), 2), store.ErrNotFound)
	is(t, st.AddMember(ctx, ten, g.ID, "client-"+id.New(), 2), store.ErrSubjectNotFound)
	is(t, st.AddMember(ctx, ten, g.ID, a.SubjectID(), 2), nil)
	is(t, st.AddMember(ctx, ten, g.ID, a.SubjectID(), 2), nil) // again: no-op, not counted
	is(t, st.AddMember(ctx, ten, g.ID, b.SubjectID(), 2), nil)
	is(t, st.AddMember(ctx, ten, g.ID, "user-00000000-0000-4000-8000-000000000002", 2), store.ErrLimitExceeded)
	members, err := st.Members(ctx, ten, g.ID)
	if err != nil || len(members) != 2 {
		t.Fatal(members, err)
	}
	if ms, err := st.Memberships(ctx, ten, a.SubjectID()); err != nil || !slices.Equal(ms, []string{g.ID}) {
		t.Fatal(ms, err)
	}
	is(t, st.RemoveMember(ctx, ten, g.ID, a.SubjectID()), nil)
	is(t, st.RemoveMember(ctx, ten, g.ID, a.SubjectID()), nil) // no-op
	names, err := st.DisplayNames(ctx, ten, []string{b.SubjectID(), "group-" + g.ID, "client-" + id.New(), "user-x"})
	if err != nil || len(names) != 2 || names[b.SubjectID()] != b.Name || names["group-"+g.ID] != g.DisplayName {
		t.Fatal(names, err)
	}
	list, err := st.ListGroups(ctx, ten, store.PageQuery{Limit: 10})
	if err != nil || len(list.Items) != 1 {
		t.Fatal(list, err)
	}
	is(t, st.DeleteGroup(ctx, ten, g.ID), nil)
	is(t, st.DeleteGroup(ctx, ten, g.ID), store.ErrNotFound)
	if ms, _ := st.Memberships(ctx, ten, b.SubjectID()); len(ms) != 0 {
		t.Errorf("membership left after the group's deletion: %v", ms)
	}
	// Deleting a client ends its memberships on the group's side too.
	g2 := newGroup(t, ten)
	is(t, st.AddMember(ctx, ten, g2.ID, b.SubjectID(), 5), nil)
	is(t, st.DeleteClient(ctx, ten, b.ID), nil)
	if m, _ := st.Members(ctx, ten, g2.ID); len(m) != 0 {
		t.Errorf("member left after the client's deletion: %v", m)
	}
}

// TestConflictingTransactionsAreRetried: members added at once to one group
// all land and are all counted, though each transaction updates the same
// group item.
func TestConflictingTransactionsAreRetried(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	g := newGroup(t, ten)
	var wg sync.WaitGroup
	errs := make([]error, 12)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = st.AddMember(ctx, ten, g.ID, fmt.Sprintf("user-00000000-0000-4000-8000-%012d", i), 12)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	is(t, st.AddMember(ctx, ten, g.ID, "user-00000000-0000-4000-8000-999999999999", 12), store.ErrLimitExceeded)
}

func TestLastOwner(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	owner := func(c client.Client) policy.Policy {
		return policy.Policy{Subject: c.SubjectID(), Action: "owner", Scope: "/", CreatedAt: now}
	}
	a, b := newClient(t, ten), newClient(t, ten)
	for _, c := range []client.Client{a, b} {
		if _, _, err := st.PutPolicy(ctx, ten, owner(c)); err != nil {
			t.Fatal(err)
		}
	}
	is(t, st.DeletePolicy(ctx, ten, owner(a).Triple()), nil)
	is(t, st.DeletePolicy(ctx, ten, owner(b).Triple()), store.ErrLastOwner)
	is(t, st.DeleteClient(ctx, ten, b.ID), store.ErrLastOwner)
	if _, err := st.GetClient(ctx, ten, b.ID); err != nil {
		t.Fatal("a refused delete must leave the client:", err)
	}
	// A tenant from before the count: recounted from live owners.
	if _, err := ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "T#" + ten}, "SK": &types.AttributeValueMemberS{Value: "OWNERS"}}}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, ten)
	if _, _, err := st.PutPolicy(ctx, ten, owner(c)); err != nil {
		t.Fatal(err)
	}
	is(t, st.DeleteClient(ctx, ten, b.ID), nil)
	is(t, st.DeleteClient(ctx, ten, c.ID), store.ErrLastOwner)
}

func TestFailuresAreUnavailable(t *testing.T) {
	broken := dynamo.New(ddb, "no-such-table")
	_, err := broken.GetClient(context.Background(), "t", id.New())
	is(t, err, fault.ErrUnavailable)
	_, err = broken.Grants(context.Background(), "t", "client-"+id.New())
	is(t, err, fault.ErrUnavailable)
}

// TestTombstones: a client marked deleting (as a crash in the middle of its
// deletion leaves it) exists for no reader and takes nothing new, and a
// repeated delete finishes the cascade.
func TestTombstones(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	c := newClient(t, ten)
	g := newGroup(t, ten)
	is(t, st.CreateSecret(ctx, ten, c.ID, hashed(1), 5), nil)
	is(t, st.AddMember(ctx, ten, g.ID, c.SubjectID(), 5), nil)
	if _, err := ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table,
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "T#" + ten + "#S#" + c.SubjectID()}, "SK": &types.AttributeValueMemberS{Value: "A#CLIENT"}},
		UpdateExpression:          aws.String("SET deleting = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}}}); err != nil {
		t.Fatal(err)
	}
	_, err := st.GetClient(ctx, ten, c.ID)
	is(t, err, store.ErrNotFound)
	_, err = st.Grants(ctx, ten, c.SubjectID())
	is(t, err, store.ErrSubjectNotFound)
	_, _, err = st.PutPolicy(ctx, ten, policy.Policy{Subject: c.SubjectID(), Action: "owner", Scope: "/", CreatedAt: now})
	is(t, err, store.ErrSubjectNotFound)
	is(t, st.CreateSecret(ctx, ten, c.ID, hashed(2), 5), store.ErrNotFound)
	is(t, st.AddMember(ctx, ten, newGroup(t, ten).ID, c.SubjectID(), 5), store.ErrSubjectNotFound)
	_, err = st.ReplaceClient(ctx, c, store.ReplaceCondition{})
	is(t, err, store.ErrNotFound)
	if rec, _ := st.GetCredentials(ctx, ten, c.ID, "x", now); rec.Client != nil || rec.Secrets != nil {
		t.Errorf("credentials of a tombstoned client: %+v", rec)
	}
	if names, _ := st.DisplayNames(ctx, ten, []string{c.SubjectID()}); len(names) != 0 {
		t.Errorf("a tombstoned client has a name: %v", names)
	}
	is(t, st.DeleteClient(ctx, ten, c.ID), nil)
	if m, _ := st.Members(ctx, ten, g.ID); len(m) != 0 {
		t.Errorf("the finished delete left the membership: %v", m)
	}
	is(t, st.DeleteClient(ctx, ten, c.ID), store.ErrNotFound)
}

// names lists the names of a page's clients.
func names(p store.Page[client.Client]) string {
	var out []string
	for _, c := range p.Items {
		out = append(out, c.Name)
	}
	return strings.Join(out, ",")
}

// TestListingPagesAndCounts: keyset pages forward, backward and from the
// end, jumps, bounded searches, and counts kept by creates and deletes.
func TestListingPagesAndCounts(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	byName := map[string]client.Client{}
	for _, n := range []string{"delta", "Alpha", "charlie", "bravo", "echo", "alpha", "Foxtrot"} {
		c := client.Client{Tenant: ten, ID: id.New(), Spec: client.Spec{Name: n, Description: "d", GrantTypes: []string{client.GrantClientCredentials}, RedirectURIs: []string{}}, CreatedAt: now, UpdatedAt: now, Version: 1}
		is(t, st.CreateClient(ctx, c), nil)
		byName[n] = c
	}
	if n, err := st.CountClients(ctx, ten); err != nil || n != 7 {
		t.Fatalf("count %d %v", n, err)
	}
	first, err := st.ListClients(ctx, ten, store.PageQuery{Limit: 3})
	if err != nil || !first.More || !strings.EqualFold(names(first), "alpha,alpha,bravo") {
		t.Fatalf("first page %q more=%v %v", names(first), first.More, err)
	}
	second, _ := st.ListClients(ctx, ten, store.PageQuery{After: first.Last, Limit: 3})
	third, _ := st.ListClients(ctx, ten, store.PageQuery{After: second.Last, Limit: 3})
	if names(second) != "charlie,delta,echo" || names(third) != "Foxtrot" || third.More {
		t.Fatalf("pages %q %q more=%v", names(second), names(third), third.More)
	}
	back, _ := st.ListClients(ctx, ten, store.PageQuery{Before: second.First, Limit: 3})
	if names(back) != names(first) || back.First != first.First {
		t.Fatalf("back from the second page: %q", names(back))
	}
	last, _ := st.ListClients(ctx, ten, store.PageQuery{Last: true, Limit: 1})
	jump, _ := st.ListClients(ctx, ten, store.PageQuery{Skip: 3, Limit: 3})
	if names(last) != "Foxtrot" || names(jump) != names(second) {
		t.Fatalf("last %q, jump %q", names(last), names(jump))
	}
	// A search reads at most ScanLimit clients, and goes on from there.
	found, _ := st.ListClients(ctx, ten, store.PageQuery{Search: "A", Limit: 10, ScanLimit: 3})
	if !strings.EqualFold(names(found), "alpha,alpha,bravo") || !found.More {
		t.Fatalf("search %q more=%v", names(found), found.More)
	}
	rest, _ := st.ListClients(ctx, ten, store.PageQuery{Search: "A", After: found.Last, Limit: 10, ScanLimit: 3})
	if names(rest) != "charlie,delta" || !rest.More {
		t.Fatalf("search goes on: %q more=%v", names(rest), rest.More)
	}
	// Renames move, deletes leave the listing and the count.
	renamed := byName["echo"]
	renamed.Name = "aardvark"
	if _, err := st.ReplaceClient(ctx, renamed, store.ReplaceCondition{}); err != nil {
		t.Fatal(err)
	}
	is(t, st.DeleteClient(ctx, ten, byName["bravo"].ID), nil)
	all, _ := st.ListClients(ctx, ten, store.PageQuery{Limit: 10})
	if n, _ := st.CountClients(ctx, ten); n != 6 || !strings.EqualFold(names(all), "aardvark,alpha,alpha,charlie,delta,foxtrot") {
		t.Fatalf("after a rename and a delete: %d %q", n, names(all))
	}
}

// TestCountsOfAnOlderTenant: a tenant written before the counts and the
// name-ordered index gets both on first need, its tombstoned clients left out.
func TestCountsOfAnOlderTenant(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	for i, n := range []string{"zulu", "Yankee", "xray"} {
		cid := id.New()
		it := map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "T#" + ten + "#S#client-" + cid}, "SK": &types.AttributeValueMemberS{Value: "A#CLIENT"},
			"GSI1PK": &types.AttributeValueMemberS{Value: "T#" + ten + "#CLIENTS"}, "GSI1SK": &types.AttributeValueMemberS{Value: cid},
			"name": &types.AttributeValueMemberS{Value: n}, "description": &types.AttributeValueMemberS{Value: "d"},
			"version": &types.AttributeValueMemberN{Value: "1"}, "secretCount": &types.AttributeValueMemberN{Value: "0"},
		}
		if i == 2 {
			it["deleting"] = &types.AttributeValueMemberBOOL{Value: true}
		}
		if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.CountClients(ctx, ten); err != nil || n != 2 {
		t.Fatalf("count %d %v", n, err)
	}
	newClient(t, ten) // counted from there on
	// The upgrade puts the older items in name order (and makes them
	// searchable), once.
	if n, err := st.UpgradeTenant(ctx, ten); err != nil || n != 3 {
		t.Fatalf("upgraded %d: %v", n, err)
	}
	if n, _ := st.UpgradeTenant(ctx, ten); n != 0 {
		t.Fatalf("a second upgrade changed %d items", n)
	}
	if found, _ := st.ListClients(ctx, ten, store.PageQuery{Limit: 10, Search: "ANKE", ScanLimit: 10}); names(found) != "Yankee" {
		t.Fatalf("search after the upgrade: %q", names(found))
	}
	all, _ := st.ListClients(ctx, ten, store.PageQuery{Limit: 10})
	if n, _ := st.CountClients(ctx, ten); n != 3 || len(all.Items) != 3 || all.Items[1].Name != "Yankee" || all.Items[2].Name != "zulu" {
		t.Fatalf("%d %q", n, names(all))
	}
}

// TestSubjectBounds: a subject holds at most policy.MaxPerSubject policies
// and belongs to at most group.MaxPerSubject groups, also under racing
// writes; counts too high (a deleted group) or missing (an older subject)
// are counted again.
func TestSubjectBounds(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	c := newClient(t, ten)
	pol := func(i int) policy.Policy {
		return policy.Policy{Subject: c.SubjectID(), Action: "banking.ais.read", Scope: fmt.Sprintf("/c/%d", i), CreatedAt: now}
	}
	for i := range policy.MaxPerSubject - 5 {
		if _, _, err := st.PutPolicy(ctx, ten, pol(i)); err != nil {
			t.Fatal(i, err)
		}
	}
	// Ten racing puts for the last five places.
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = st.PutPolicy(ctx, ten, pol(1000+i))
		}()
	}
	wg.Wait()
	ok, refused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrLimitExceeded):
			refused++
		default:
			t.Fatal(err)
		}
	}
	if ok != 5 || refused != 5 {
		t.Fatalf("%d stored, %d refused; want 5 and 5", ok, refused)
	}
	if _, created, err := st.PutPolicy(ctx, ten, pol(0)); err != nil || created {
		t.Fatalf("putting a stored policy at the maximum: %v %v", created, err)
	}
	is(t, st.DeletePolicy(ctx, ten, pol(0).Triple()), nil)
	if _, _, err := st.PutPolicy(ctx, ten, pol(0)); err != nil {
		t.Fatal("after a delete:", err)
	}

	// Groups, for a client and for a user.
	for _, sid := range []string{newClient(t, ten).SubjectID(), "user-" + id.New()} {
		var groups []group.Group
		for range group.MaxPerSubject {
			g := newGroup(t, ten)
			is(t, st.AddMember(ctx, ten, g.ID, sid, 10), nil)
			groups = append(groups, g)
		}
		is(t, st.AddMember(ctx, ten, newGroup(t, ten).ID, sid, 10), store.ErrSubjectLimitExceeded)
		is(t, st.RemoveMember(ctx, ten, groups[0].ID, sid), nil)
		is(t, st.AddMember(ctx, ten, groups[0].ID, sid, 10), nil)
		// Deleting a group leaves the count one too high: counted again.
		is(t, st.DeleteGroup(ctx, ten, groups[1].ID), nil)
		is(t, st.AddMember(ctx, ten, newGroup(t, ten).ID, sid, 10), nil)
		is(t, st.AddMember(ctx, ten, newGroup(t, ten).ID, sid, 10), store.ErrSubjectLimitExceeded)
	}

	// An older client has no counts: they are made on its first add.
	old := newClient(t, ten)
	if _, _, err := st.PutPolicy(ctx, ten, policy.Policy{Subject: old.SubjectID(), Action: "owner", Scope: "/x", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table,
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "T#" + ten + "#S#" + old.SubjectID()},
			"SK": &types.AttributeValueMemberS{Value: "A#CLIENT"}},
		UpdateExpression: aws.String("REMOVE policyCount, groupCount")}); err != nil {
		t.Fatal(err)
	}
	is(t, st.DeletePolicy(ctx, ten, policy.Triple{Subject: old.SubjectID(), Action: "owner", Scope: "/x"}), nil)
	for i := range policy.MaxPerSubject {
		if _, _, err := st.PutPolicy(ctx, ten, policy.Policy{Subject: old.SubjectID(), Action: "owner", Scope: fmt.Sprintf("/y/%d", i), CreatedAt: now}); err != nil {
			t.Fatal(i, err)
		}
	}
	_, _, err := st.PutPolicy(ctx, ten, policy.Policy{Subject: old.SubjectID(), Action: "owner", Scope: "/z", CreatedAt: now})
	is(t, err, store.ErrLimitExceeded)
}

// TestSubjectCountsUnderChurn: racing puts and deletes at the maximum,
// with recounts among them, never leave more than policy.MaxPerSubject
// policies, nor a count below the policies there are.
func TestSubjectCountsUnderChurn(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	c := newClient(t, ten)
	pol := func(i int) policy.Policy {
		return policy.Policy{Subject: c.SubjectID(), Action: "banking.ais.read", Scope: fmt.Sprintf("/c/%d", i), CreatedAt: now}
	}
	for i := range policy.MaxPerSubject {
		if _, _, err := st.PutPolicy(ctx, ten, pol(i)); err != nil {
			t.Fatal(i, err)
		}
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 6 {
				// Delete one of the first hundred, then try to put two new ones.
				_ = st.DeletePolicy(ctx, ten, pol(w*6+round).Triple())
				for k := range 2 {
					_, _, err := st.PutPolicy(ctx, ten, pol(1000+w*100+round*2+k))
					if err != nil && !errors.Is(err, store.ErrLimitExceeded) {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	all, err := st.SubjectPolicies(ctx, ten, c.SubjectID())
	if err != nil {
		t.Fatal(err)
	}
	out, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "T#" + ten + "#S#" + c.SubjectID()},
			"SK": &types.AttributeValueMemberS{Value: "A#CLIENT"}}})
	if err != nil {
		t.Fatal(err)
	}
	counted := out.Item["policyCount"].(*types.AttributeValueMemberN).Value
	if len(all) > policy.MaxPerSubject || counted != fmt.Sprint(len(all)) {
		t.Fatalf("%d policies, counted %s; want at most %d, counted exactly", len(all), counted, policy.MaxPerSubject)
	}
}

// TestTokenFunctionItems: what the token function writes (attempt counts,
// used assertions, revoked tokens and their count) lands in the client's
// token partition, never in its own; revocations are counted, at most Max
// per span; items older releases left in the client's partition or the
// old assertion partition are still honoured.
func TestTokenFunctionItems(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	c := newClient(t, ten)
	own := func() int {
		out, err := ddb.Query(ctx, &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "T#" + ten + "#S#client-" + c.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Items)
	}
	before := own()
	window := now.Truncate(time.Minute)
	is(t, st.CountAttempt(ctx, store.Attempts{Tenant: ten, Key: c.ID, Address: "192.0.2.1", Window: window}, 1, lockout.Limits{Threshold: 5, Ceiling: 5}, window.Add(time.Hour)), nil)
	is(t, st.UseAssertion(ctx, ten, c.ID, "a-1", now.Add(time.Hour), now), nil)
	is(t, st.UseAssertion(ctx, ten, c.ID, "a-1", now.Add(time.Hour), now), store.ErrConflict)
	limit := store.RevocationLimit{Max: 2, Span: time.Hour, Now: now}
	is(t, st.RevokeToken(ctx, ten, c.ID, "j-1", now.Add(time.Hour), limit), nil)
	is(t, st.RevokeToken(ctx, ten, c.ID, "j-2", now.Add(time.Hour), limit), nil)
	err := st.RevokeToken(ctx, ten, c.ID, "j-3", now.Add(time.Hour), limit)
	var past *store.LimitError
	if !errors.As(err, &past) || !errors.Is(err, store.ErrLimitExceeded) || !past.Until.Equal(now.Add(time.Hour)) {
		t.Fatalf("a third revocation in the span: %v", err)
	}
	if after := own(); after != before {
		t.Errorf("the token function's writes left %d items in the client's own partition", after-before)
	}
	for jti, want := range map[string]bool{"j-1": true, "j-2": true, "j-3": false, "a-1": false} {
		if got, err := st.TokenRevoked(ctx, ten, c.ID, jti); err != nil || got != want {
			t.Errorf("TokenRevoked(%s) = %v %v", jti, got, err)
		}
	}
	rec, err := st.GetCredentials(ctx, ten, c.ID, "192.0.2.1", window)
	if err != nil || rec.Client == nil || rec.Revocations != 2 || rec.Attempts != (lockout.Counts{FromAddress: 1, Total: 1}) {
		t.Fatalf("credentials %+v %v", rec, err)
	}
	// The next span starts the count again; the total only grows.
	limit.Now = now.Add(time.Hour)
	is(t, st.RevokeToken(ctx, ten, c.ID, "j-3", now.Add(2*time.Hour), limit), nil)
	if rec, _ := st.GetCredentials(ctx, ten, c.ID, "192.0.2.1", window); rec.Revocations != 3 {
		t.Errorf("revocations %d after a new span, want 3", rec.Revocations)
	}

	// Left by an older release: a revoked token in the client's partition,
	// a used assertion in the old assertion partition.
	legacy := func(pk, sk string) {
		if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}}); err != nil {
			t.Fatal(err)
		}
	}
	// The client is one of an older release too: it has no grants item.
	if _, err := ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "T#" + ten + "#S#client-" + c.ID}, "SK": &types.AttributeValueMemberS{Value: "A!GRANTS"}}}); err != nil {
		t.Fatal(err)
	}
	legacy("T#"+ten+"#S#client-"+c.ID, "R#old-jti")
	g, err := st.Grants(ctx, ten, "client-"+c.ID)
	if err != nil || !g.Revocation.Revoked("old-jti", now) {
		t.Errorf("a token revoked by an older release: %+v %v", g.Revocation, err)
	}
	// Building its grants item moves the revocation where decisions look.
	is(t, st.RebuildGrants(ctx, ten, "client-"+c.ID), nil)
	if got, err := st.TokenRevoked(ctx, ten, c.ID, "old-jti"); err != nil || !got {
		t.Errorf("a token revoked by an older release, after the upgrade: %v %v", got, err)
	}
	sum := sha256.Sum256([]byte("old-assertion"))
	legacy("T#"+ten+"#ASSERTION#"+c.ID, hex.EncodeToString(sum[:]))
	is(t, st.UseAssertion(ctx, ten, c.ID, "old-assertion", now.Add(6*time.Minute), now), store.ErrConflict)
	// One valid for longer than an older release accepted was never used there.
	sum = sha256.Sum256([]byte("long-assertion"))
	legacy("T#"+ten+"#ASSERTION#"+c.ID, hex.EncodeToString(sum[:]))
	is(t, st.UseAssertion(ctx, ten, c.ID, "long-assertion", now.Add(time.Hour), now), nil)
}

// counting is the DynamoDB client with the read units and calls of reads
// counted, as DynamoDB reports them (ReturnConsumedCapacity TOTAL).
type counting struct {
	*dynamodb.Client
	mu    sync.Mutex
	calls int
	units float64
}

func (c *counting) add(cc ...types.ConsumedCapacity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	for _, x := range cc {
		c.units += aws.ToFloat64(x.CapacityUnits)
	}
}

func (c *counting) take() (calls int, units float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls, units, c.calls, c.units = c.calls, c.units, 0, 0
	return calls, units
}

func (c *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.GetItem(ctx, in, opts...)
	if err == nil && out.ConsumedCapacity != nil {
		c.add(*out.ConsumedCapacity)
	}
	return out, err
}

func (c *counting) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.Query(ctx, in, opts...)
	if err == nil && out.ConsumedCapacity != nil {
		c.add(*out.ConsumedCapacity)
	}
	return out, err
}

func (c *counting) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.Client.BatchGetItem(ctx, in, opts...)
	if err == nil {
		c.add(out.ConsumedCapacity...)
	}
	return out, err
}

// seedMaxima makes a client at the per-subject maxima: policy.MaxPerSubject
// policies of its own, member of group.MaxPerSubject groups of as many
// policies each (the shapes the scale benchmark seeds).
func seedMaxima(t *testing.T, ten string) (client.Client, []group.Group) {
	t.Helper()
	ctx := context.Background()
	grant := func(subjectID string) {
		for i := range policy.MaxPerSubject {
			p := policy.Policy{Subject: subjectID, Action: "banking.ais.read", Scope: fmt.Sprintf("/companies/%d", i), CreatedAt: now}
			if _, _, err := st.PutPolicy(ctx, ten, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := newClient(t, ten, "api")
	grant(c.SubjectID())
	var gs []group.Group
	for range group.MaxPerSubject {
		g := newGroup(t, ten)
		grant("group-" + g.ID)
		is(t, st.AddMember(ctx, ten, g.ID, c.SubjectID(), group.MaxMembers), nil)
		gs = append(gs, g)
	}
	return c, gs
}

// TestDecisionReadsAtTheMaxima: a decision for a subject at the maxima is
// two calls, the subject's grants and own items and one BatchGetItem of its
// groups' grants items: one read unit for each of the 11 items (each under
// 4 KB, and every strongly consistent read of an item costs at least one).
func TestDecisionReadsAtTheMaxima(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	c, gs := seedMaxima(t, ten)
	api := &counting{Client: ddb}
	counted := dynamo.New(api, table)
	g, err := counted.Grants(ctx, ten, c.SubjectID())
	if err != nil {
		t.Fatal(err)
	}
	calls, units := api.take()
	t.Logf("a decision at the maxima: %d calls, %.1f read units", calls, units)
	if calls != 2 || units > float64(1+group.MaxPerSubject) {
		t.Errorf("a decision at the maxima: %d calls, %.1f read units; want 2 calls, at most %d units", calls, units, 1+group.MaxPerSubject)
	}
	if len(g.Direct) != policy.MaxPerSubject || len(g.Groups) != len(gs) || len(g.All()) != policy.MaxPerSubject*(1+len(gs)) {
		t.Fatalf("grants: %d direct, %d groups, %d in all", len(g.Direct), len(g.Groups), len(g.All()))
	}
	for _, gg := range g.Groups {
		if len(gg.Policies) != policy.MaxPerSubject {
			t.Fatalf("group %s: %d policies", gg.GroupID, len(gg.Policies))
		}
	}
	if !g.Direct[0].CreatedAt.Equal(now) || g.Direct[0].Subject != c.SubjectID() {
		t.Errorf("a policy read from the grants item: %+v", g.Direct[0])
	}
}

// sameGrants fails unless Grants (read from grants items) says what the
// policy and membership items say.
func sameGrants(t *testing.T, ten, subjectID string) {
	t.Helper()
	ctx := context.Background()
	g, err := st.Grants(ctx, ten, subjectID)
	if err != nil {
		t.Fatal(err)
	}
	own, err := st.SubjectPolicies(ctx, ten, subjectID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(g.Direct) != fmt.Sprint(own) {
		t.Errorf("%s: grants %v, policy items %v", subjectID, g.Direct, own)
	}
	groups, err := st.Memberships(ctx, ten, subjectID)
	if err != nil {
		t.Fatal(err)
	}
	var read []string
	for _, gg := range g.Groups {
		read = append(read, gg.GroupID)
		items, _ := st.SubjectPolicies(ctx, ten, "group-"+gg.GroupID)
		if fmt.Sprint(gg.Policies) != fmt.Sprint(items) {
			t.Errorf("group %s: grants %v, policy items %v", gg.GroupID, gg.Policies, items)
		}
	}
	if fmt.Sprint(read) != fmt.Sprint(groups) {
		t.Errorf("%s: groups %v, membership items %v", subjectID, read, groups)
	}
}

// TestGrantsItemsUnderChurn: racing puts, deletes, memberships and group
// deletions leave every grants item saying what the items say, for a
// client and for a user (whose grants item its first write builds).
func TestGrantsItemsUnderChurn(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	c := newClient(t, ten)
	subjects := []string{c.SubjectID(), "user-" + id.New()}
	var gs []group.Group
	for range 4 {
		gs = append(gs, newGroup(t, ten))
	}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 8 {
				sid := subjects[(w+round)%2]
				g := gs[(w+round)%len(gs)]
				p := policy.Policy{Subject: sid, Action: "banking.ais.read", Scope: fmt.Sprintf("/c/%d/%d", w, round%3), CreatedAt: now.Add(time.Duration(w) * time.Second)}
				gp := policy.Policy{Subject: "group-" + g.ID, Action: "banking.pis.write", Scope: fmt.Sprintf("/g/%d", w%2), CreatedAt: now}
				for _, err := range []error{
					func() error { _, _, err := st.PutPolicy(ctx, ten, p); return err }(),
					func() error { _, _, err := st.PutPolicy(ctx, ten, gp); return err }(),
					st.AddMember(ctx, ten, g.ID, sid, group.MaxMembers),
				} {
					if err != nil && !errors.Is(err, store.ErrSubjectLimitExceeded) {
						t.Error(err)
					}
				}
				if round%2 == 1 {
					if err := st.DeletePolicy(ctx, ten, p.Triple()); err != nil && !errors.Is(err, store.ErrNotFound) {
						t.Error(err)
					}
					if err := st.RemoveMember(ctx, ten, gs[round%len(gs)].ID, sid); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, sid := range subjects {
		sameGrants(t, ten, sid)
	}
	// A deleted group leaves its members' grants items with it.
	is(t, st.DeleteGroup(ctx, ten, gs[0].ID), nil)
	for _, sid := range subjects {
		sameGrants(t, ten, sid)
		g, _ := st.Grants(ctx, ten, sid)
		for _, gg := range g.Groups {
			if gg.GroupID == gs[0].ID {
				t.Errorf("%s still reads the deleted group", sid)
			}
		}
	}
}

// TestGrantsOfAnOlderTenant: subjects an older version wrote have no
// grants item (or, written by an older function during a deployment, one
// that is behind): decisions read them from their partitions until their
// next write or the upgrade builds it; the upgrade makes every subject's
// item, users' too.
func TestGrantsOfAnOlderTenant(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	c, gs := seedMaxima(t, ten)
	user := "user-" + id.New()
	is(t, st.AddMember(ctx, ten, gs[1].ID, user, group.MaxMembers), nil)
	if _, _, err := st.PutPolicy(ctx, ten, policy.Policy{Subject: user, Action: "banking.ais.read", Scope: "/u", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	grantsKey := func(sid string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "T#" + ten + "#S#" + sid}, "SK": &types.AttributeValueMemberS{Value: "A!GRANTS"}}
	}
	for _, sid := range []string{c.SubjectID(), "group-" + gs[0].ID, user} {
		if _, err := ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: grantsKey(sid)}); err != nil {
			t.Fatal(err)
		}
	}
	// An older function puts a policy on a group whose item is complete.
	behind := policy.Policy{Subject: "group-" + gs[2].ID, Action: "banking.pis.write", Scope: "/behind", CreatedAt: now}
	it := map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "T#" + ten + "#S#" + behind.Subject}, "SK": &types.AttributeValueMemberS{Value: "P#" + behind.Action + "#" + behind.Scope},
		"GSI1PK": &types.AttributeValueMemberS{Value: "T#" + ten + "#POLICIES"}, "GSI1SK": &types.AttributeValueMemberS{Value: behind.Subject + "#" + behind.Action + "#" + behind.Scope},
		"subject": &types.AttributeValueMemberS{Value: behind.Subject}, "action": &types.AttributeValueMemberS{Value: behind.Action},
		"scope": &types.AttributeValueMemberS{Value: behind.Scope}, "createdAt": &types.AttributeValueMemberS{Value: now.Format(time.RFC3339Nano)},
	}
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: it}); err != nil {
		t.Fatal(err)
	}
	// Without grants items: read from the partitions, still right.
	sameGrants(t, ten, user)
	api := &counting{Client: ddb}
	counted := dynamo.New(api, table)
	if _, err := counted.Grants(ctx, ten, c.SubjectID()); err != nil {
		t.Fatal(err)
	}
	if calls, _ := api.take(); calls != 1+1+group.MaxPerSubject {
		t.Errorf("an older subject read in %d calls, want one per partition", calls)
	}
	if _, err := st.UpgradeTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	for _, sid := range []string{c.SubjectID(), user} {
		sameGrants(t, ten, sid)
	}
	g, _ := st.Grants(ctx, ten, c.SubjectID())
	if !slices.ContainsFunc(g.All(), func(p policy.Policy) bool { return p.Triple() == behind.Triple() }) {
		t.Error("the upgrade left a grants item behind its policy items")
	}
	if _, err := counted.Grants(ctx, ten, c.SubjectID()); err != nil {
		t.Fatal(err)
	}
	if calls, units := api.take(); calls != 2 || units > float64(1+group.MaxPerSubject) {
		t.Errorf("after the upgrade: %d calls, %.1f units", calls, units)
	}
	if _, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: grantsKey(user), ConsistentRead: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
}

// TestRenameNeedsEveryRightUnchanged: a rename whose client differs from
// the stored one in any rights-bearing field (client.Fields) is refused
// and changes nothing, so a rename can never write over, or stand in
// for, a change of rights. A field made rights-bearing without a line
// here fails the test.
func TestRenameNeedsEveryRightUnchanged(t *testing.T) {
	ctx, ten := context.Background(), tenant(t)
	base := newClient(t, ten, "api")
	mutators := map[string]func(*client.Client){
		"GrantTypes":    func(c *client.Client) { c.GrantTypes = append(c.GrantTypes, client.GrantAuthorizationCode) },
		"Scopes":        func(c *client.Client) { c.Scopes = append(c.Scopes, "more") },
		"RedirectURIs":  func(c *client.Client) { c.RedirectURIs = []string{"https://app.example.com/cb"} },
		"Audiences":     func(c *client.Client) { c.Audiences = []string{"https://api.example.com"} },
		"TokenLifetime": func(c *client.Client) { c.TokenLifetime = 2 * time.Hour },
		"TokenClaims":   func(c *client.Client) { c.TokenClaims = map[string]string{"team": "x"} },
	}
	for field, class := range client.Fields {
		if _, ok := mutators[field]; class == policy.RightsBearing && !ok {
			t.Errorf("rights-bearing field %s has no case here (and may be missing from RenameClient's condition)", field)
		}
	}
	for field, mutate := range mutators {
		c := base
		c.Name = "renamed-" + field
		mutate(&c)
		_, err := st.RenameClient(ctx, c)
		is(t, err, store.ErrVersionMismatch)
		if got, err := st.GetClient(ctx, ten, base.ID); err != nil || got.Name != base.Name || got.Version != base.Version {
			t.Errorf("%s: a refused rename changed the client: %+v %v", field, got, err)
		}
	}
	c := base
	c.Name = "renamed"
	if got, err := st.RenameClient(ctx, c); err != nil || got.Name != "renamed" || got.Version != base.Version+1 {
		t.Errorf("a rename with the stored rights: %+v %v", got, err)
	}
}
