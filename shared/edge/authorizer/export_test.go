package authorizer

import "fmt"

// StandIn is what the example needs of a stand-in service.
type StandIn struct {
	Issuer, ClientID, Secret, Token string
}

// exampleT lets the fake run outside a test: a failure panics.
type exampleT struct{ cleanups []func() }

func (*exampleT) Helper()            { _ = 0 }
func (*exampleT) Fatal(args ...any)  { panic(fmt.Sprint(args...)) }
func (e *exampleT) Cleanup(f func()) { e.cleanups = append(e.cleanups, f) }

// StartStandIn starts a stand-in for the service that allows
// client-caller orders.order.read on /orders/1 only, and returns it with a
// token of that caller and a stop function.
func StartStandIn() (StandIn, func()) {
	t := &exampleT{}
	f := newFakeService(t)
	f.allow("client-caller", "orders.order.read", "/orders/1", true)
	return StandIn{Issuer: f.srv.URL, ClientID: testClient, Secret: testSecret, Token: f.mint(nil)}, func() {
		for _, c := range t.cleanups {
			c()
		}
	}
}
