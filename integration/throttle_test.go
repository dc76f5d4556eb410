package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/shared/iam/id"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/lockout"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
)

// atWindowStart moves the functions' clock to the start of the next
// lockout window, so a window cannot end mid-test.
func atWindowStart(t *testing.T) {
	now := env.clock.Now()
	env.clock.Advance(now.Truncate(lockout.DefaultWindow).Add(lockout.DefaultWindow).Sub(now))
	t.Cleanup(env.clock.Reset)
}

func tokenForm(clientID, secret string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
}

// TestConcurrentGuessesCannotOverrunTheThreshold: 40 wrong guesses at once
// for one client id from one address: at most the threshold of them get a
// secret check, every other one a 429 without hash work.
func TestConcurrentGuessesCannotOverrunTheThreshold(t *testing.T) {
	admin := adminToken(t)
	atWindowStart(t)
	for _, target := range []string{"known", "unknown"} {
		cid := id.New()
		if target == "known" {
			cid, _ = newClient(t, admin, "guessed-concurrently")
		}
		before := env.hashes.verifies.Load()
		results := parallel(40, func(i int) response {
			return send(t, http.MethodPost, "/connect/token", "", tokenForm(cid, "guess-"+strconv.Itoa(i)))
		})
		checked := env.hashes.verifies.Load() - before
		s := statuses(results)
		if s[http.StatusUnauthorized] != lockout.DefaultThreshold || s[http.StatusTooManyRequests] != 40-lockout.DefaultThreshold {
			t.Errorf("%s id: statuses %v, want %d × 401 and the rest 429", target, s, lockout.DefaultThreshold)
		}
		if checked != lockout.DefaultThreshold {
			t.Errorf("%s id: %d secret checks, want %d", target, checked, lockout.DefaultThreshold)
		}
	}
}

// TestGuessesFromOneAddressDoNotLockOutAnother: an attacker on 127.0.0.2
// exhausts its attempts; the real client on 127.0.0.1 keeps getting tokens,
// cold (first verification in a new process's cache) or warm.
func TestGuessesFromOneAddressDoNotLockOutAnother(t *testing.T) {
	admin := adminToken(t)
	atWindowStart(t)
	cid, value := newClient(t, admin, "targeted")
	attacker := fromAddress("127.0.0.2")
	for i := range lockout.DefaultThreshold + 5 {
		r := sendVia(t, attacker, http.MethodPost, "/connect/token", "", tokenForm(cid, "guess-"+strconv.Itoa(i)))
		if want := http.StatusUnauthorized; i >= lockout.DefaultThreshold {
			want = http.StatusTooManyRequests
			if r.Status != want {
				t.Fatalf("guess %d: %s", i, r)
			}
		} else if r.Status != want {
			t.Fatalf("guess %d: %s", i, r)
		}
	}
	// The right secret from the throttled address is refused too: a 429
	// there says nothing about the secret.
	if r := sendVia(t, attacker, http.MethodPost, "/connect/token", "", tokenForm(cid, value)); r.Status != http.StatusTooManyRequests {
		t.Fatalf("right secret from the throttled address: %s", r)
	}
	for range 3 {
		if r := send(t, http.MethodPost, "/connect/token", "", tokenForm(cid, value)); r.Status != http.StatusOK {
			t.Fatalf("the real client from its own address: %s", r)
		}
	}
	// Its successes gave their counts back: the real address has its full
	// threshold of wrong guesses left (a typo must not cost it more).
	for i := range lockout.DefaultThreshold {
		if r := send(t, http.MethodPost, "/connect/token", "", tokenForm(cid, "typo-"+strconv.Itoa(i))); r.Status != http.StatusUnauthorized {
			t.Fatalf("mistake %d from the real address: %s", i, r)
		}
	}
}

// TestThrottleCeiling: guesses spread over many addresses stop at the
// per-client ceiling, for every address, within the window; the next window
// starts afresh.
func TestThrottleCeiling(t *testing.T) {
	admin := adminToken(t)
	atWindowStart(t)
	cid, value := newClient(t, admin, "distributed-target")
	// The real client has used its secret before: the token function knows
	// it without hash work.
	tokenFor(t, tenant.Default, cid, value, "")
	before := env.hashes.verifies.Load()
	checked, throttled := 0, 0
	perAddress := lockout.DefaultThreshold
	addresses := lockout.DefaultCeiling/perAddress + 2
	for a := range addresses {
		hc := fromAddress(fmt.Sprintf("127.0.1.%d", a+1))
		for i := range perAddress {
			switch r := sendVia(t, hc, http.MethodPost, "/connect/token", "", tokenForm(cid, fmt.Sprintf("guess-%d-%d", a, i))); r.Status {
			case http.StatusUnauthorized:
				checked++
			case http.StatusTooManyRequests:
				throttled++
			default:
				t.Fatalf("guess from address %d: %s", a, r)
			}
		}
	}
	if checked != lockout.DefaultCeiling || env.hashes.verifies.Load()-before != int64(lockout.DefaultCeiling) {
		t.Errorf("%d guesses checked (%d hash verifications), want the ceiling %d", checked, env.hashes.verifies.Load()-before, lockout.DefaultCeiling)
	}
	if throttled != addresses*perAddress-lockout.DefaultCeiling {
		t.Errorf("%d throttled", throttled)
	}
	fresh := fromAddress("127.0.2.1")
	for i := range lockout.DefaultThreshold + 2 {
		if r := sendVia(t, fresh, http.MethodPost, "/connect/token", "", tokenForm(cid, fmt.Sprint("guess-fresh-", i))); r.Status != http.StatusTooManyRequests {
			t.Errorf("a fresh address past the ceiling: %s", r)
		}
	}
	if n := env.hashes.verifies.Load() - before; n != int64(lockout.DefaultCeiling) {
		t.Errorf("%d hash verifications past the ceiling, want none", n-int64(lockout.DefaultCeiling))
	}
	// The real client, from its own address, still gets in with the secret
	// it used before: the ceiling stops secret checks, not known secrets.
	for range 3 {
		if r := send(t, http.MethodPost, "/connect/token", "", tokenForm(cid, value)); r.Status != http.StatusOK {
			t.Fatalf("the real client past the ceiling: %s", r)
		}
	}
	// But the fresh address, having spent its attempts on refused guesses,
	// cannot use that way to test guesses.
	if r := sendVia(t, fresh, http.MethodPost, "/connect/token", "", tokenForm(cid, value)); r.Status != http.StatusTooManyRequests {
		t.Errorf("the right secret from an address that spent its attempts: %s", r)
	}
	env.clock.Advance(lockout.DefaultWindow)
	if r := sendVia(t, fresh, http.MethodPost, "/connect/token", "", tokenForm(cid, value)); r.Status != http.StatusOK {
		t.Errorf("next window: %s", r)
	}
}

// TestCountsNeverCrowdOutCredentials fills a client's token partition with
// more than a Query page (1 MB) of attempt counts from earlier windows, and
// the current window's count at its ceiling of addresses: the token
// endpoint still reads the client, its secrets and the current count in its
// two Queries.
func TestCountsNeverCrowdOutCredentials(t *testing.T) {
	admin := adminToken(t)
	atWindowStart(t)
	cid, value := newClient(t, admin, "crowded")
	pk := "TOKEN#default#" + cid
	window, _ := lockout.Limits{Window: lockout.DefaultWindow}.WindowAt(env.clock.Now())
	put := func(start time.Time, addresses, pad int) {
		it := map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: throttleSK(start)},
			"total": &types.AttributeValueMemberN{Value: strconv.Itoa(addresses)},
		}
		for a := range addresses {
			it[fmt.Sprintf("a:198.51.%d.%d%s", a/250, a%250, strings.Repeat("0", pad))] = &types.AttributeValueMemberN{Value: "0"}
		}
		if _, err := env.svc.DynamoDB.PutItem(context.Background(), &dynamodb.PutItemInput{
			TableName: aws.String(env.svc.Resources.TableName), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	// Three earlier windows of about 380 KB each: 1.1 MB in all.
	for i := 1; i <= 3; i++ {
		put(window.Add(-time.Duration(i)*lockout.DefaultWindow), 1900, 180)
	}
	put(window, lockout.DefaultCeiling-1, 0)
	env.calls.reset()
	if r := send(t, http.MethodPost, "/connect/token", "", tokenForm(cid, value)); r.Status != http.StatusOK {
		t.Fatalf("token with a crowded partition: %s", r)
	}
	if got := env.calls.snapshot()["DynamoDB:Query"]; got != 2 {
		t.Errorf("%d Queries, want 2", got)
	}
	// And the current window's count was read: one more counted attempt
	// reaches the ceiling.
	send(t, http.MethodPost, "/connect/token", "", tokenForm(cid, "wrong-guess"))
	if r := send(t, http.MethodPost, "/connect/token", "", tokenForm(cid, "another-guess")); r.Status != http.StatusTooManyRequests {
		t.Errorf("past the ceiling: %s", r)
	}
	tokenFor(t, tenant.Default, env.admin.ClientID, env.admin.ClientSecret, "")
}

// throttleSK mirrors the store's key of a window's count (a test of the
// layout must not share the code it tests).
func throttleSK(start time.Time) string {
	return fmt.Sprintf("#ATTEMPTS#%011d", start.Unix())
}

// TestAuditEveryChange: every request that is not a GET leaves exactly one
// audit line, whatever its outcome, refusals before any route included.
func TestAuditEveryChange(t *testing.T) {
	admin := adminToken(t)
	big := `{"name":"` + strings.Repeat("x", 70<<10) + `"}`
	for _, c := range []struct {
		method, path, bearer string
		body                 any
		status               int
		action               string
	}{
		{http.MethodPost, "/v1/clients", admin, `{"name":`, http.StatusBadRequest, "iam.client.create"},
		{http.MethodPost, "/v1/clients", admin, big, http.StatusRequestEntityTooLarge, "iam.client.create"},
		{http.MethodPost, "/v1/policies", "", map[string]string{}, http.StatusUnauthorized, "iam.policy.create"},
		{http.MethodPost, "/v1/policies", admin, `{"subject":1}`, http.StatusBadRequest, "iam.policy.create"},
		{http.MethodDelete, "/v1/policies", "not-a-token", nil, http.StatusUnauthorized, "iam.policy.delete"},
		{http.MethodPut, "/v1/policies", admin, nil, http.StatusMethodNotAllowed, "unrouted"},
		{http.MethodPost, "/v1/nowhere", admin, nil, http.StatusNotFound, "unrouted"},
		{http.MethodDelete, "/v1/clients/not-an-id/secrets/x", admin, nil, http.StatusNotFound, "iam.secret.delete"},
	} {
		r := send(t, c.method, c.path, c.bearer, c.body)
		if r.Status != c.status {
			t.Fatalf("%s %s: %s, want %d", c.method, c.path, r, c.status)
		}
		rid, _ := r.json(t)["requestId"].(string)
		var found []map[string]any
		for _, l := range env.audit.lines() {
			if l["msg"] == "audit" && l["requestId"] == rid {
				found = append(found, l)
			}
		}
		if rid == "" || len(found) != 1 || found[0]["action"] != c.action || found[0]["status"] != float64(c.status) {
			t.Errorf("%s %s (%d): audit lines %v", c.method, c.path, c.status, found)
		}
	}
}

// TestUnlockLiftsTheThrottle: a client locked out from an address (say a
// NAT it shares with a job using a wrong secret) gets in again at once
// after an unlock for that address, which needs iam.client.unlock; an
// unlock without an address forgets every address's attempts.
func TestUnlockLiftsTheThrottle(t *testing.T) {
	admin := adminToken(t)
	atWindowStart(t)
	cid, value := newClient(t, admin, "behind-a-nat")
	nat := fromAddress("127.0.0.3")
	for i := range lockout.DefaultThreshold {
		sendVia(t, nat, http.MethodPost, "/connect/token", "", tokenForm(cid, "wrong-secret-"+strconv.Itoa(i)))
	}
	if r := sendVia(t, nat, http.MethodPost, "/connect/token", "", tokenForm(cid, value)); r.Status != http.StatusTooManyRequests {
		t.Fatalf("the right secret from the locked address: %s", r)
	}
	if r := send(t, http.MethodPost, "/v1/clients/"+cid+"/unlock", admin, `{"address":"not-an-ip"}`); r.Status != http.StatusBadRequest {
		t.Errorf("unlock with a bad address: %s", r)
	}
	if r := send(t, http.MethodPost, "/v1/clients/"+cid+"/unlock", admin, `{"address":"127.0.0.3"}`); r.Status != http.StatusNoContent {
		t.Fatalf("unlock: %s", r)
	}
	if r := sendVia(t, nat, http.MethodPost, "/connect/token", "", tokenForm(cid, value)); r.Status != http.StatusOK {
		t.Fatalf("after the unlock: %s", r)
	}
	for i := range lockout.DefaultThreshold {
		sendVia(t, nat, http.MethodPost, "/connect/token", "", tokenForm(cid, "wrong-again-"+strconv.Itoa(i)))
	}
	if r := send(t, http.MethodPost, "/v1/clients/"+cid+"/unlock", admin, nil); r.Status != http.StatusNoContent {
		t.Fatalf("unlock of every address: %s", r)
	}
	if r := sendVia(t, nat, http.MethodPost, "/connect/token", "", tokenForm(cid, value)); r.Status != http.StatusOK {
		t.Fatalf("after the unlock of every address: %s", r)
	}
}

// TestUnlockNeedsWhatTheClientHolds: iam.client.unlock alone does not let
// a caller lift the lockout of a client holding more than it does (more
// guesses at that client's secret are worth what it holds); a client it
// holds as much as, it may unlock.
func TestUnlockNeedsWhatTheClientHolds(t *testing.T) {
	admin := adminToken(t)
	helpdesk := newCaller(t, admin, "helpdesk")
	grant(t, admin, helpdesk.subject, "iam.client.unlock", "/clients")
	strong, _ := newClient(t, admin, "strong-client")
	grant(t, admin, subject.ID(subject.Client, strong), "iam.policy.create", "/")
	weak, _ := newClient(t, admin, "weak-client")
	tok := helpdesk.token(t)
	if r := send(t, http.MethodPost, "/v1/clients/"+strong+"/unlock", tok, nil); r.Status != http.StatusForbidden {
		t.Errorf("unlock of a client holding iam.policy.create on /: %s, want 403", r)
	}
	if r := send(t, http.MethodPost, "/v1/clients/"+weak+"/unlock", tok, nil); r.Status != http.StatusNoContent {
		t.Errorf("unlock of a client holding nothing: %s, want 204", r)
	}
}
