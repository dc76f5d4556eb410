// Package scale measures the management API at the size a platform reaches:
// a tenant of 100,000 clients (SCALE_CLIENTS overrides) in DynamoDB Local,
// behind the same gateway and handlers as production, with production's
// timeouts. Each benchmark reports its latency and the DynamoDB read
// capacity it consumed (ReturnConsumedCapacity) per request:
//
//	go test -run '^$' -bench . -benchtime 20x ./integration/scale/
//
// (make bench runs it). Seeding takes a minute; the figures are in
// docs/performance.md.
package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/machine-iam/machine-iam/local/stack"
	"github.com/machine-iam/machine-iam/operator"
	"github.com/machine-iam/machine-iam/shared/iam/group"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/runtime/app"
	"github.com/machine-iam/machine-iam/shared/storage/dynamo"
)

// Sizes of the seeded tenant. The subject of the decision benchmark holds
// the per-subject maxima: maxPolicies policies of its own, and membership
// of maxGroups groups holding maxPolicies policies each.
const (
	defaultClients = 100_000
	maxPolicies    = 100
	maxGroups      = 10
	searchEvery    = 100 // one client in searchEvery matches the search
)

// capacity sums the read and write capacity DynamoDB reports.
type capacity struct {
	mu          sync.Mutex
	read, write float64
	calls       int
}

func (c *capacity) install(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("ConsumedCapacity",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			total := types.ReturnConsumedCapacityTotal
			switch p := in.Parameters.(type) {
			case *dynamodb.QueryInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.GetItemInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.BatchGetItemInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.TransactWriteItemsInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.UpdateItemInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.PutItemInput:
				p.ReturnConsumedCapacity = total
			}
			out, md, err := next.HandleInitialize(ctx, in)
			var consumed []types.ConsumedCapacity
			switch r := out.Result.(type) {
			case *dynamodb.QueryOutput:
				consumed = append(consumed, deref(r.ConsumedCapacity)...)
			case *dynamodb.GetItemOutput:
				consumed = append(consumed, deref(r.ConsumedCapacity)...)
			case *dynamodb.BatchGetItemOutput:
				consumed = r.ConsumedCapacity
			case *dynamodb.TransactWriteItemsOutput:
				consumed = r.ConsumedCapacity
			case *dynamodb.UpdateItemOutput:
				consumed = append(consumed, deref(r.ConsumedCapacity)...)
			case *dynamodb.PutItemOutput:
				consumed = append(consumed, deref(r.ConsumedCapacity)...)
			}
			c.mu.Lock()
			c.calls++
			for _, cc := range consumed {
				switch in.Parameters.(type) {
				case *dynamodb.QueryInput, *dynamodb.GetItemInput, *dynamodb.BatchGetItemInput:
					c.read += value(cc.CapacityUnits)
				default:
					c.write += value(cc.CapacityUnits)
				}
			}
			c.mu.Unlock()
			return out, md, err
		}), middleware.After)
}

func deref(c *types.ConsumedCapacity) []types.ConsumedCapacity {
	if c == nil {
		return nil
	}
	return []types.ConsumedCapacity{*c}
}

func value(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

func (c *capacity) take() (read, write float64, calls int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	read, write, calls = c.read, c.write, c.calls
	c.read, c.write, c.calls = 0, 0, 0
	return read, write, calls
}

type world struct {
	svc      *stack.Service
	server   *httptest.Server
	capacity *capacity
	tenant   string
	token    string
	subject  string // the subject at the maxima
	clients  int
	seeded   time.Duration
}

var (
	setupOnce sync.Once
	shared    *world
	setupErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.server.Close()
		shared.svc.Stop()
	}
	os.Exit(code)
}

func setup(b *testing.B) *world {
	setupOnce.Do(func() { shared, setupErr = build() })
	if setupErr != nil {
		b.Fatal(setupErr)
	}
	return shared
}

func build() (*world, error) {
	ctx := context.Background()
	w := &world{capacity: &capacity{}, clients: defaultClients}
	if n, err := strconv.Atoi(os.Getenv("SCALE_CLIENTS")); err == nil && n > 0 {
		w.clients = n
	}
	w.server = httptest.NewUnstartedServer(nil)
	base := "http://" + w.server.Listener.Addr().String()
	aws := []func(*config.LoadOptions) error{config.WithAPIOptions([]func(*middleware.Stack) error{w.capacity.install})}
	budget, _ := strconv.Atoi(os.Getenv("SCALE_REQUEST_TIMEOUT"))
	if budget > 0 {
		aws = append(aws, config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(time.Duration(budget)*time.Second)))
	}
	svc, err := stack.StartService(ctx, stack.ServiceOptions{
		IssuerBase: base,
		AWS:        aws,
		Configure: func(_ string, d *app.Deps) {
			d.Hasher = secret.Argon2id{Time: 1, MemoryKiB: 1024, Threads: 1}
			d.Verifier = secret.NewVerifier(d.Hasher, secret.DefaultCacheEntries)
			d.Audit = slog.New(slog.NewTextHandler(io.Discard, nil))
			// SCALE_REQUEST_TIMEOUT (seconds) lifts the request budget and
			// the per-call timeout, to measure what a request would cost
			// past them.
			if budget > 0 {
				d.Config.RequestTimeout = time.Duration(budget) * time.Second
			}
		},
	})
	if err != nil {
		return nil, err
	}
	w.svc = svc
	w.server.Config.Handler = svc.Gateway
	w.server.Start()
	st := svc.Deps["ClientsFunction"].Store.(*dynamo.Store)
	w.tenant = "scale"
	admin, err := operator.Operator{Store: st, Hasher: secret.Argon2id{Time: 1, MemoryKiB: 1024, Threads: 1}, IssuerBase: base, Now: time.Now()}.Bootstrap(ctx, w.tenant)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	if err := seedClients(ctx, st, w.tenant, w.clients-1); err != nil {
		return nil, err
	}
	if w.subject, err = seedMaximalSubject(ctx, st, w.tenant); err != nil {
		return nil, err
	}
	w.seeded = time.Since(started)
	fmt.Fprintf(os.Stderr, "scale: seeded %d clients and a subject at the maxima in %s\n", w.clients, w.seeded.Round(time.Second))
	w.token, err = token(base, admin)
	return w, err
}

// seedClients imports n clients, 99 to a transaction with the tenant's
// count, from one writer (writers in parallel would only conflict on the
// count).
func seedClients(ctx context.Context, st *dynamo.Store, tenant string, n int) error {
	now := time.Now().UTC().Truncate(time.Second)
	const batch = 1000
	work := make(chan []client.Client)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cs := range work {
				if err := st.ImportClients(ctx, cs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for start := 0; start < n; start += batch {
		cs := make([]client.Client, 0, batch)
		for i := start; i < min(start+batch, n); i++ {
			name := fmt.Sprintf("job-%06d", i)
			if i%searchEvery == 0 {
				name = fmt.Sprintf("payments-export-%06d", i)
			}
			cs = append(cs, client.Client{Tenant: tenant, ID: id.New(), Spec: client.Spec{Name: name, Description: "Seeded for the scale benchmark", GrantTypes: []string{client.GrantClientCredentials}, Scopes: []string{"api"}, RedirectURIs: []string{}}, CreatedAt: now, UpdatedAt: now, Version: 1})
		}
		select {
		case work <- cs:
		case err := <-errs:
			close(work)
			return err
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// seedMaximalSubject makes a client with maxPolicies policies, member of
// maxGroups groups of maxPolicies policies each.
func seedMaximalSubject(ctx context.Context, st *dynamo.Store, tenant string) (string, error) {
	now := time.Now().UTC().Truncate(time.Second)
	c := client.Client{Tenant: tenant, ID: id.New(), Spec: client.Spec{Name: "maximal", Description: "At the per-subject maxima", GrantTypes: []string{client.GrantClientCredentials}, Scopes: []string{"api"}, RedirectURIs: []string{}}, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := st.CreateClient(ctx, c); err != nil {
		return "", err
	}
	grant := func(subject string, n int) error {
		for i := range n {
			p := policy.Policy{Subject: subject, Action: "banking.ais.read", Scope: fmt.Sprintf("/companies/%d", i), CreatedAt: now}
			if _, _, err := st.PutPolicy(ctx, tenant, p); err != nil {
				return err
			}
		}
		return nil
	}
	if err := grant(c.SubjectID(), maxPolicies); err != nil {
		return "", err
	}
	for i := range maxGroups {
		g := group.Group{Tenant: tenant, ID: id.New(), DisplayName: fmt.Sprintf("group-%02d", i), Description: "scale", CreatedAt: now}
		if err := st.CreateGroup(ctx, g); err != nil {
			return "", err
		}
		if err := grant("group-"+g.ID, maxPolicies); err != nil {
			return "", err
		}
		if err := st.AddMember(ctx, tenant, g.ID, c.SubjectID(), 1000); err != nil {
			return "", err
		}
	}
	return c.SubjectID(), nil
}

func token(base string, admin operator.Result) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {admin.ClientID}, "client_secret": {admin.ClientSecret}}
	resp, err := http.PostForm(base+"/"+admin.Tenant+"/connect/token", form)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		return "", fmt.Errorf("token: %d %v", resp.StatusCode, err)
	}
	return out.AccessToken, nil
}

// get sends one request and decodes its JSON answer.
func (w *world) do(b *testing.B, method, path string, body any, out any) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = strings.NewReader(string(raw))
	}
	req, _ := http.NewRequest(method, w.server.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+w.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			b.Fatal(err)
		}
	}
}

// measure runs op, which returns how many requests it sent, b.N times and
// reports latency, read and write capacity and DynamoDB calls per request.
func (w *world) measure(b *testing.B, op func() int) {
	w.capacity.take()
	requests := 0
	b.ResetTimer()
	for b.Loop() {
		requests += op()
	}
	b.StopTimer()
	read, write, calls := w.capacity.take()
	n := float64(requests)
	b.ReportMetric(read/n, "RRU/req")
	b.ReportMetric(write/n, "WRU/req")
	b.ReportMetric(float64(calls)/n, "calls/req")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/n, "ms/req")
}

type clientPage struct {
	Items    []json.RawMessage
	Metadata struct{ TotalCount int }
	Links    struct{ Next, Last *string }
}

func BenchmarkScale(b *testing.B) {
	w := setup(b)
	b.Run("FirstPage", func(b *testing.B) {
		w.measure(b, func() int {
			var p clientPage
			w.do(b, http.MethodGet, "/v1/clients?pageSize=50", nil, &p)
			if len(p.Items) != 50 {
				b.Fatalf("%d items", len(p.Items))
			}
			return 1
		})
	})
	b.Run("TenPagesByNext", func(b *testing.B) {
		w.measure(b, func() int {
			var p clientPage
			w.do(b, http.MethodGet, "/v1/clients?pageSize=50", nil, &p)
			for range 10 {
				w.do(b, http.MethodGet, *p.Links.Next, nil, &p)
			}
			return 11 // the first page and ten by next
		})
	})
	b.Run("LastPage", func(b *testing.B) {
		var first clientPage
		w.do(b, http.MethodGet, "/v1/clients?pageSize=50", nil, &first)
		w.measure(b, func() int {
			var p clientPage
			w.do(b, http.MethodGet, *first.Links.Last, nil, &p)
			if len(p.Items) == 0 {
				b.Fatal("empty last page")
			}
			return 1
		})
	})
	b.Run("PageJump200", func(b *testing.B) {
		w.measure(b, func() int {
			var p clientPage
			w.do(b, http.MethodGet, "/v1/clients?pageSize=50&page=200", nil, &p)
			if len(p.Items) != 50 {
				b.Fatalf("%d items", len(p.Items))
			}
			return 1
		})
	})
	// One search request: its cost is bounded whatever it finds.
	b.Run("Search", func(b *testing.B) {
		w.measure(b, func() int {
			var p clientPage
			w.do(b, http.MethodGet, "/v1/clients?pageSize=50&searchText=PAYMENTS", nil, &p)
			if p.Links.Next == nil {
				b.Fatal("a search of a large tenant ended in one request")
			}
			return 1
		})
	})
	// A whole search, by next links to the end: every match, once.
	b.Run("SearchToTheEnd", func(b *testing.B) {
		want := (w.clients - 1 + searchEvery - 1) / searchEvery
		w.measure(b, func() int {
			var p clientPage
			w.do(b, http.MethodGet, "/v1/clients?pageSize=50&searchText=PAYMENTS", nil, &p)
			found, requests := len(p.Items), 1
			for p.Links.Next != nil {
				w.do(b, http.MethodGet, *p.Links.Next, nil, &p)
				found += len(p.Items)
				requests++
			}
			if found != want || p.Metadata.TotalCount != want {
				b.Fatalf("found %d, total %d, want %d", found, p.Metadata.TotalCount, want)
			}
			return requests
		})
	})
	b.Run("Count", func(b *testing.B) {
		w.measure(b, func() int {
			var p clientPage
			w.do(b, http.MethodGet, "/v1/clients?pageSize=1", nil, &p)
			if p.Metadata.TotalCount != w.clients+1 {
				b.Fatalf("count %d, want %d", p.Metadata.TotalCount, w.clients+1)
			}
			return 1
		})
	})
	b.Run("Decision", func(b *testing.B) {
		w.measure(b, func() int {
			var d struct{ Allowed bool }
			w.do(b, http.MethodPost, "/v1/permissions/check", map[string]string{
				"subject": w.subject, "action": "banking.ais.read", "scope": fmt.Sprintf("/companies/%d/accounts/1", maxPolicies-1)}, &d)
			if !d.Allowed {
				b.Fatal("denied")
			}
			return 1
		})
	})
}
