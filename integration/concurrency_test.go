package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// parallel runs f(i) for i in [0, n) at once and returns the responses.
func parallel(n int, f func(i int) response) []response {
	out := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = f(i) }()
	}
	wg.Wait()
	return out
}

func statuses(rs []response) map[int]int {
	m := map[int]int{}
	for _, r := range rs {
		m[r.Status]++
	}
	return m
}

func secretCount(t *testing.T, clientID string) int {
	t.Helper()
	out, err := env.svc.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(env.svc.Resources.TableName),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "T#default#S#client-" + clientID}, "SK": &types.AttributeValueMemberS{Value: "A#CLIENT"},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil || out.Item == nil {
		t.Fatalf("client item: %v", err)
	}
	n, _ := strconv.Atoi(out.Item["secretCount"].(*types.AttributeValueMemberN).Value)
	return n
}

// TestConcurrentSecrets: racing creates never pass the limit, lose or
// duplicate a secret; racing deletes and token requests never issue a token
// for a secret whose deletion had already been answered.
func TestConcurrentSecrets(t *testing.T) {
	admin := adminToken(t)
	r := send(t, http.MethodPost, "/v1/clients", admin, clientBody("concurrent-secrets"))
	cid := r.json(t)["clientId"].(string)
	values := make([]string, 25)
	created := parallel(25, func(i int) response {
		values[i] = fmt.Sprintf("concurrent-value-%02d", i)
		return send(t, http.MethodPost, "/v1/clients/"+cid+"/secrets", admin, map[string]any{"value": values[i], "description": strconv.Itoa(i)})
	})
	if got := statuses(created); got[201] != 20 || got[409] != 5 || len(got) != 2 {
		t.Fatalf("25 racing creates against a limit of 20: %v", got)
	}
	list := send(t, http.MethodGet, "/v1/clients/"+cid+"/secrets", admin, nil).json(t)["items"].([]any)
	ids := map[string]string{} // secret id -> value
	for i, c := range created {
		if c.Status == 201 {
			ids[c.json(t)["id"].(string)] = values[i]
		}
	}
	if len(list) != 20 || len(ids) != 20 || secretCount(t, cid) != 20 {
		t.Fatalf("listed %d, created %d distinct, counted %d", len(list), len(ids), secretCount(t, cid))
	}

	type attempt struct {
		value   string
		started time.Time
		status  int
	}
	deletedAt := sync.Map{}
	var attempts []attempt
	var mu sync.Mutex
	var wg sync.WaitGroup
	for sid, value := range ids {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if r := send(t, http.MethodDelete, "/v1/clients/"+cid+"/secrets/"+sid, admin, nil); r.Status != 204 {
				t.Errorf("delete: %s", r)
			}
			deletedAt.Store(value, time.Now())
		}()
		go func() {
			defer wg.Done()
			for range 3 {
				start := time.Now()
				r := send(t, http.MethodPost, "/connect/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {cid}, "client_secret": {value}})
				mu.Lock()
				attempts = append(attempts, attempt{value: value, started: start, status: r.Status})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, a := range attempts {
		// 429: the deleted secrets' failures lock the client id, as designed.
		if a.status != 200 && a.status != 401 && a.status != 429 {
			t.Errorf("token request answered %d", a.status)
		}
		if d, ok := deletedAt.Load(a.value); ok && a.status == 200 && a.started.After(d.(time.Time)) {
			t.Errorf("a token was issued for a secret deleted before the request began")
		}
	}
	if n := len(send(t, http.MethodGet, "/v1/clients/"+cid+"/secrets", admin, nil).json(t)["items"].([]any)); n != 0 || secretCount(t, cid) != 0 {
		t.Fatalf("after deleting all: %d listed, %d counted", n, secretCount(t, cid))
	}
}

// TestConcurrentDeleteLeavesNoOrphans creates policies and memberships for
// clients while they are being deleted: afterwards nothing of them remains.
func TestConcurrentDeleteLeavesNoOrphans(t *testing.T) {
	admin := adminToken(t)
	gid := newGroup(t, admin, "racing-group")
	for round := range 4 {
		cid, _ := newClient(t, admin, "doomed-"+strconv.Itoa(round))
		subj := "client-" + cid
		results := parallel(12, func(i int) response {
			switch {
			case i == 6:
				return send(t, http.MethodDelete, "/v1/clients/"+cid, admin, nil)
			case i%3 == 0:
				return send(t, http.MethodPost, "/v1/subjects/groups/"+gid+"/members", admin, map[string]any{"subjectIds": []string{subj}})
			default:
				return send(t, http.MethodPost, "/v1/policies", admin, map[string]string{"subject": subj, "action": "banking.ais.read", "scope": "/subscriptions/" + strconv.Itoa(i)})
			}
		})
		for i, r := range results {
			ok := map[int]bool{200: true, 204: true, 400: true, 404: true}
			if i == 6 && r.Status != 204 || !ok[r.Status] {
				t.Errorf("round %d request %d: %s", round, i, r)
			}
		}
		if n := partitionSize(t, "T#default#S#"+subj); n != 0 {
			t.Errorf("round %d: %d items left in the deleted client's partition", round, n)
		}
		members := send(t, http.MethodGet, "/v1/subjects/groups/"+gid+"/members", admin, nil).json(t)["data"].([]any)
		for _, m := range members {
			if m.(map[string]any)["subjectId"] == subj {
				t.Errorf("round %d: the deleted client is still a member", round)
			}
		}
		// The group side of memberships is counted: no ghost remains.
		if n := partitionSize(t, "T#default#S#group-"+gid); n != 2 {
			t.Errorf("round %d: group partition holds %d items, want only the group and its grants item", round, n)
		}
	}
}

// TestConcurrentUpdates races conditional and unconditional replaces: every
// If-Match loser gets 412, nothing 5xx, and the version counts every write.
func TestConcurrentUpdates(t *testing.T) {
	admin := adminToken(t)
	cid := send(t, http.MethodPost, "/v1/clients", admin, clientBody("racing-updates")).json(t)["clientId"].(string)
	results := parallel(20, func(i int) response {
		body := clientBody("racing-" + strconv.Itoa(i))
		if i%2 == 0 {
			return send(t, http.MethodPut, "/v1/clients/"+cid, admin, body, "If-Match", `"1"`)
		}
		return send(t, http.MethodPut, "/v1/clients/"+cid, admin, body)
	})
	conditionalWins, writes := 0, 0
	for i, r := range results {
		switch {
		case i%2 == 0 && r.Status == 200:
			conditionalWins++
			writes++
		case i%2 == 0 && r.Status == 412:
		case i%2 == 1 && r.Status == 200:
			writes++
		default:
			t.Errorf("request %d: %s", i, r)
		}
	}
	if conditionalWins > 1 {
		t.Errorf("%d writes conditional on version 1 succeeded", conditionalWins)
	}
	got := send(t, http.MethodGet, "/v1/clients/"+cid, admin, nil)
	if want := `"` + strconv.Itoa(1+writes) + `"`; got.Header.Get("ETag") != want {
		t.Errorf("ETag %s after %d writes, want %s", got.Header.Get("ETag"), writes, want)
	}
	versions := []string{}
	for _, r := range results {
		if r.Status == 200 {
			versions = append(versions, r.Header.Get("ETag"))
		}
	}
	slices.Sort(versions)
	if len(slices.Compact(versions)) != writes {
		t.Errorf("two writes returned the same version: %v", versions)
	}

	// Unconditional replaces that change rights (scopes) race: each is
	// checked and written over the version it checked, retried a bounded
	// number of times; every one ends in 200 or, having kept losing, 409,
	// never a 5xx; the version still counts every write.
	before, _ := strconv.Atoi(strings.Trim(send(t, http.MethodGet, "/v1/clients/"+cid, admin, nil).Header.Get("ETag"), `"`))
	rights := parallel(16, func(i int) response {
		scopes := []string{"api"}
		if i%2 == 0 {
			scopes = append(scopes, "services.iam")
		}
		return send(t, http.MethodPut, "/v1/clients/"+cid, admin, clientBody("racing-rights", scopes...))
	})
	written := 0
	for i, r := range rights {
		switch r.Status {
		case http.StatusOK:
			written++
		case http.StatusConflict:
		default:
			t.Errorf("rights change %d: %s", i, r)
		}
	}
	got = send(t, http.MethodGet, "/v1/clients/"+cid, admin, nil)
	after, _ := strconv.Atoi(strings.Trim(got.Header.Get("ETag"), `"`))
	if written == 0 || after-before != written {
		t.Errorf("%d rights changes answered 200, the version moved by %d", written, after-before)
	}
}
