package authorizer

import (
	"context"
	"testing"
)

// BenchmarkAuthorizeCached is a request whose answer is cached: route
// match, ES256 verification against the cached key set, cache lookup.
func BenchmarkAuthorizeCached(b *testing.B) {
	f := newFakeService(b)
	a, _ := newTestAuthorizer(b, f, nil)
	f.allow("client-caller", "orders.order.read", "/orders/1", true)
	r := Request{Method: "GET", Path: "/orders/1", Authorization: "Bearer " + f.mint(nil)}
	if d, err := a.Authorize(context.Background(), r); err != nil || d.Outcome != Allowed {
		b.Fatal(d, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := a.Authorize(context.Background(), r); !d.Cached {
			b.Fatal("not cached")
		}
	}
}
