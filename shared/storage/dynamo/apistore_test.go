package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/apis"
	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// TestAPINamesStayReserved: identifiers are unique while an API lives;
// scope and action names stay with the API that first held them, after it
// drops them and after it is deleted; the API itself may take them back.
func TestAPINamesStayReserved(t *testing.T) {
	ctx, ten := context.Background(), "apis-"+id.New()[:8]
	now := time.Now().UTC().Truncate(time.Second)
	orders := apis.API{Tenant: ten, ID: id.New(), Version: 1, CreatedAt: now, UpdatedAt: now, Spec: apis.Spec{
		Identifier: "https://api.example.test", Name: "Orders",
		Scopes:  []apis.Scope{{Name: "orders.read"}},
		Actions: []apis.Action{{Name: "orders.manage"}, {Name: "orders.order.read", Parent: "orders.manage"}}}}
	if err := st.CreateAPI(ctx, orders); err != nil {
		t.Fatal(err)
	}
	other := apis.API{Tenant: ten, ID: id.New(), Version: 1, Spec: apis.Spec{Identifier: "https://api.example.test", Name: "Other",
		Scopes: []apis.Scope{{Name: "orders.read"}}}}
	var nc *store.NameConflict
	if err := st.CreateAPI(ctx, other); !errors.As(err, &nc) || !slices.Equal(nc.Names, []string{"identifier https://api.example.test", "scope orders.read"}) {
		t.Fatalf("create over taken names: %v", err)
	}
	// Dropping a name keeps it reserved; the same API takes it back.
	dropped := orders
	dropped.Actions = dropped.Actions[:1]
	got, err := st.ReplaceAPI(ctx, dropped, 1)
	if err != nil || got.Version != 2 {
		t.Fatalf("replace: %+v %v", got, err)
	}
	if _, err := st.ReplaceAPI(ctx, dropped, 1); !errors.Is(err, store.ErrVersionMismatch) {
		t.Errorf("stale replace: %v", err)
	}
	other.Identifier, other.Scopes = "https://other.example.test", nil
	other.Actions = []apis.Action{{Name: "orders.order.read"}}
	if err := st.CreateAPI(ctx, other); !errors.As(err, &nc) || !slices.Equal(nc.Names, []string{"action orders.order.read"}) {
		t.Fatalf("a dropped name was taken by another API: %v", err)
	}
	if _, err := st.ReplaceAPI(ctx, orders, 2); err != nil {
		t.Fatalf("the API takes its own name back: %v", err)
	}
	// Deleting frees the identifier only.
	if err := st.DeleteAPI(ctx, ten, orders.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetAPI(ctx, ten, orders.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	if err := st.DeleteAPI(ctx, ten, orders.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete again: %v", err)
	}
	if err := st.CreateAPI(ctx, other); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a deleted API's names must stay reserved: %v", err)
	}
	other.Identifier, other.Actions = "https://api.example.test", nil
	if err := st.CreateAPI(ctx, other); err != nil {
		t.Errorf("the identifier is free again: %v", err)
	}
	list, err := st.ListAPIs(ctx, ten)
	if err != nil || len(list) != 1 || list[0].ID != other.ID || list[0].Identifier != "https://api.example.test" {
		t.Errorf("list = %+v, %v", list, err)
	}
	if list, _ := st.ListAPIs(ctx, "someone-else"); len(list) != 0 {
		t.Errorf("another tenant sees %v", list)
	}
}

// TestAPILimitHoldsUnderConcurrentCreates: the tenant's count of APIs is
// kept in the creating transactions, so creates racing each other cannot
// pass apis.MaxPerTenant, and a delete makes room again.
func TestAPILimitHoldsUnderConcurrentCreates(t *testing.T) {
	ctx, ten := context.Background(), "apilimit-"+id.New()[:8]
	extra := 8
	errs := make([]error, apis.MaxPerTenant+extra)
	ids := make([]string, len(errs))
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = id.New()
			errs[i] = st.CreateAPI(ctx, apis.API{Tenant: ten, ID: ids[i], Version: 1,
				Spec: apis.Spec{Identifier: fmt.Sprintf("https://api%d.example.test", i), Name: fmt.Sprintf("API %d", i)}})
		}()
	}
	wg.Wait()
	created, refused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case errors.Is(err, store.ErrLimitExceeded):
			refused++
		default:
			t.Fatalf("create: %v", err)
		}
	}
	if created != apis.MaxPerTenant || refused != extra {
		t.Fatalf("created %d, refused %d; want %d and %d", created, refused, apis.MaxPerTenant, extra)
	}
	for i, err := range errs {
		if err == nil {
			if err := st.DeleteAPI(ctx, ten, ids[i]); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if err := st.CreateAPI(ctx, apis.API{Tenant: ten, ID: id.New(), Version: 1,
		Spec: apis.Spec{Identifier: "https://after-delete.example.test", Name: "after"}}); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
}
