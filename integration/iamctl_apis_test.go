package integration

import (
	"strings"
	"testing"
)

// TestIamctlManagesAPIs registers, reads and deletes an API with iamctl, and
// keeps one in a desired-state document: planned, applied, changed, pruned
// only when an apply of the document made it.
func TestIamctlManagesAPIs(t *testing.T) {
	t.Parallel()
	_, res := newTenantAdmin(t, "cli-apis")
	c := newCLI(t, res)

	var made struct{ APIID, Identifier string }
	c.json(&made, "apis", "create", "--identifier", "HTTPS://Billing.Example.test/", "--name", "Billing",
		"--scope", "billing.read", "--action", "billing.manage", "--action", "billing.invoice.read:billing.manage")
	if made.APIID == "" || made.Identifier != "https://billing.example.test" {
		t.Fatalf("created %+v", made)
	}
	if out := c.ok("apis", "list"); !strings.Contains(out, "builtin-banking") || !strings.Contains(out, made.APIID) {
		t.Errorf("list:\n%s", out)
	}
	if out := c.ok("apis", "get", made.APIID); !strings.Contains(out, "billing.invoice.read") {
		t.Errorf("get:\n%s", out)
	}
	c.ok("apis", "delete", made.APIID)
	c.expect(4, "apis", "get", made.APIID)

	doc := `version: 1
name: shop
apis:
  - name: Orders API
    identifier: https://orders.example.test
    scopes: [{name: orders.read, description: Read orders.}]
    actions:
      - {action: orders.manage}
      - {action: orders.order.read, parent: orders.manage}
clients:
  - name: shop
    description: The shop front
    scopes: [orders.read]
    audiences: [https://orders.example.test]
    policies: [{action: orders.order.read, scope: /orders}]
`
	out, errOut, code := c.run(doc, "plan", "-f", "-")
	if code != 2 || !strings.Contains(out, `+ api "Orders API"`) || !strings.Contains(out, "+ action       orders.order.read (under orders.manage)") ||
		!strings.Contains(out, "+ policy       orders.order.read on /orders") {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := c.run(doc, "apply", "-f", "-", "--secrets-out", "-"); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code := c.run(doc, "plan", "-f", "-"); code != 0 || !strings.Contains(out, "No changes") {
		t.Fatalf("plan after apply: %s", out)
	}
	changed := strings.Replace(doc, "      - {action: orders.order.read, parent: orders.manage}\n",
		"      - {action: orders.order.read, parent: orders.manage}\n      - {action: orders.order.cancel, parent: orders.manage}\n", 1)
	if out, _, code := c.run(changed, "plan", "-f", "-"); code != 2 || !strings.Contains(out, `~ api "Orders API"`) ||
		!strings.Contains(out, "+ action       orders.order.cancel (under orders.manage)") {
		t.Fatalf("change plan: %s", out)
	}
	if out, errOut, code := c.run(changed, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply change: exit %d\n%s%s", code, out, errOut)
	}
	moved := strings.Replace(doc, "https://orders.example.test\n    scopes", "https://orders2.example.test\n    scopes", 1)
	if out, errOut, code := c.run(moved, "plan", "-f", "-"); code == 0 || code == 2 || !strings.Contains(out+errOut, "never changes") {
		t.Errorf("an identifier change must be refused: exit %d\n%s%s", code, out, errOut)
	}

	// An API made by hand is never adopted or pruned; the document's own is
	// pruned once it no longer declares it.
	c.json(&made, "apis", "create", "--identifier", "https://hand.example.test", "--name", "Orders API")
	onlyClients := "version: 1\nname: shop\n"
	out, _, code = c.run(onlyClients, "plan", "-f", "-", "--prune")
	if code != 2 || !strings.Contains(out, `- api "Orders API"`) || strings.Contains(out, made.APIID) {
		t.Fatalf("prune plan: exit %d\n%s", code, out)
	}
	if out, errOut, code := c.run(onlyClients, "apply", "-f", "-", "--prune"); code != 0 {
		t.Fatalf("prune: exit %d\n%s%s", code, out, errOut)
	}
	c.ok("apis", "get", made.APIID)
	if out := c.ok("apis", "list"); strings.Contains(out, "orders.example.test") {
		t.Errorf("the pruned API remains:\n%s", out)
	}
}
