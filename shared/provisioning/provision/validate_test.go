package provision

import (
	"strings"
	"testing"
	"time"
)

// TestValidateListsEveryMistake: a document full of mistakes is refused
// with every one of them listed, each naming its client or group and field.
func TestValidateListsEveryMistake(t *testing.T) {
	doc := parseFile(t, "testdata/mistakes.yaml")
	m := Validate(doc, builtin.Scopes, builtin.Actions, time.Now())
	got := m.Error()
	for _, want := range mistakesInTestdata {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q", want)
		}
	}
	if len(m) != len(mistakesInTestdata) {
		t.Errorf("%d mistakes, want %d:\n%s", len(m), len(mistakesInTestdata), got)
	}
}

func TestTheExampleIsValid(t *testing.T) {
	doc := parseFile(t, "../../../examples/provisioning/tenant.yaml")
	if m := Validate(doc, builtin.Scopes, builtin.Actions, time.Now()); len(m) > 0 {
		t.Fatal(m)
	}
}

// mistakesInTestdata are the mistakes testdata/mistakes.yaml holds, as the
// plan lists them.
var mistakesInTestdata = []string{
	`group "payment-jobs": policy banking.ais.raed on /companies/42: "banking.ais.raed" is not an action of this deployment`,
	`group "payment-jobs": users: "user-0AFD4F1A-23D1-4E53-8F29-6FFA82B79E84" must be user- followed by a lower-case UUID`,
	`client "invoice-exporter": scopes [0] "apii" is not a scope of this deployment`,
	`client "invoice-exporter": accessTokenLifetime must be from 60 to 86400 seconds`,
	`client "invoice-exporter": tokenClaims "sub" is a registered or protocol claim`,
	`client "invoice-exporter": policy banking.pis.reed on /companies/42/payments: "banking.pis.reed" is not an action of this deployment`,
	`client "two\tlines": name must not contain line breaks or tabs`,
	`client "two\tlines": redirectUris [0] must use https (plain http only for localhost)`,
	`client "two\tlines": audiences [0] must not have a query`,
	`client "two\tlines": clientId must not start with client-, group- or user-`,
	`client "key-client": public key "k1": jwk`,
}
