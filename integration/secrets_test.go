package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestSecretsAPI(t *testing.T) {
	admin := adminToken(t)
	id, _ := newClient(t, admin, "secrets-api")
	value := "only-shown-once-1"
	exp := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	created := send(t, http.MethodPost, "/v1/clients/"+id+"/secrets", admin, map[string]any{"value": value, "description": "ci", "expiration": exp})
	if created.Status != http.StatusCreated {
		t.Fatal(created)
	}
	body := created.json(t)
	sid := body["id"].(string)
	if body["value"] != value || body["expiration"] != exp || body["expired"] != false || body["description"] != "ci" {
		t.Errorf("created = %v", body)
	}
	if created.Header.Get("Location") != "/v1/clients/"+id+"/secrets/"+sid || created.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers = %v", created.Header)
	}

	list := send(t, http.MethodGet, "/v1/clients/"+id+"/secrets", admin, nil)
	if list.Status != 200 {
		t.Fatal(list)
	}
	items := list.json(t)["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("items = %v", items)
	}
	for _, it := range items {
		m := it.(map[string]any)
		for _, k := range []string{"id", "description", "expiration", "createdAt", "expired", "lastUsedAt"} {
			if _, ok := m[k]; !ok {
				t.Errorf("item lacks %s: %v", k, m)
			}
		}
		if len(m) != 6 {
			t.Errorf("item has fields beyond the contract: %v", m)
		}
	}
	if strings.Contains(string(list.Body), value) || strings.Contains(string(list.Body), "argon2") {
		t.Fatalf("a listing must never show a value or a hash: %s", list.Body)
	}

	t.Run("stored only as argon2id", func(t *testing.T) {
		out, err := env.svc.DynamoDB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(env.svc.Resources.TableName)})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, it := range out.Items {
			for _, v := range it {
				if s, ok := v.(*types.AttributeValueMemberS); ok && strings.Contains(s.Value, value) {
					t.Fatalf("the secret value is stored in clear: %v", it)
				}
			}
			if sk, _ := it["SK"].(*types.AttributeValueMemberS); sk != nil && sk.Value == "A#SECRET#"+sid {
				h := it["hash"].(*types.AttributeValueMemberS).Value
				found = strings.HasPrefix(h, "$argon2id$v=19$")
			}
		}
		if !found {
			t.Fatal("the secret item has no argon2id PHC hash")
		}
	})

	if r := send(t, http.MethodDelete, "/v1/clients/"+id+"/secrets/"+sid, admin, nil); r.Status != 204 {
		t.Fatal(r)
	}
	if r := send(t, http.MethodDelete, "/v1/clients/"+id+"/secrets/"+sid, admin, nil); r.Status != 404 {
		t.Fatalf("deleting twice: %s", r)
	}
}

func TestSecretsLimit(t *testing.T) {
	admin := adminToken(t)
	id, _ := newClient(t, admin, "secrets-limit")
	for i := 1; i < 20; i++ {
		if r := send(t, http.MethodPost, "/v1/clients/"+id+"/secrets", admin, map[string]any{"value": "limit-secret-value", "description": "n"}); r.Status != 201 {
			t.Fatalf("secret %d: %s", i+1, r)
		}
	}
	r := send(t, http.MethodPost, "/v1/clients/"+id+"/secrets", admin, map[string]any{"value": "limit-secret-value", "description": "21st"})
	assertProblem(t, r, http.StatusConflict)
	items := send(t, http.MethodGet, "/v1/clients/"+id+"/secrets", admin, nil).json(t)["items"].([]any)
	if len(items) != 20 {
		t.Fatalf("%d secrets, want 20", len(items))
	}
	sid := items[0].(map[string]any)["id"].(string)
	if r := send(t, http.MethodDelete, "/v1/clients/"+id+"/secrets/"+sid, admin, nil); r.Status != 204 {
		t.Fatal(r)
	}
	if r := send(t, http.MethodPost, "/v1/clients/"+id+"/secrets", admin, map[string]any{"value": "limit-secret-value", "description": "room again"}); r.Status != 201 {
		t.Fatalf("after a delete there is room for one more: %s", r)
	}
}

func TestSecretsValidation(t *testing.T) {
	admin := adminToken(t)
	id, _ := newClient(t, admin, "secrets-validation")
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"malformed JSON", `{"value":`, ""},
		{"unknown field", map[string]any{"value": "long-enough", "description": "d", "hash": "x"}, "hash"},
		{"value wrong type", map[string]any{"value": 12345678, "description": "d"}, "value"},
		{"missing value", map[string]any{"description": "d"}, "value"},
		{"missing description", map[string]any{"value": "long-enough"}, "description"},
		{"value too short", map[string]any{"value": "short", "description": "d"}, "value"},
		{"value too long", map[string]any{"value": strings.Repeat("v", 33), "description": "d"}, "value"},
		{"description too long", map[string]any{"value": "long-enough", "description": strings.Repeat("d", 201)}, "description"},
		{"expiration not a date", map[string]any{"value": "long-enough", "description": "d", "expiration": "tomorrow"}, "expiration"},
		{"expiration date only", map[string]any{"value": "long-enough", "description": "d", "expiration": "2031-01-01"}, "expiration"},
		{"expiration in the past", map[string]any{"value": "long-enough", "description": "d", "expiration": past}, "expiration"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := send(t, http.MethodPost, "/v1/clients/"+id+"/secrets", admin, c.body)
			assertProblem(t, r, http.StatusBadRequest)
			if strings.Contains(string(r.Body), "long-enough") {
				t.Errorf("an error must not echo the value: %s", r.Body)
			}
			if c.field != "" {
				if _, ok := r.json(t)["errors"].(map[string]any)[c.field]; !ok {
					t.Errorf("errors should name %s: %s", c.field, r.Body)
				}
			}
		})
	}
	for _, c := range []struct {
		name, method, path string
		status             int
	}{
		{"unknown client", http.MethodGet, "/v1/clients/00000000-0000-4000-8000-000000000000/secrets", 404},
		{"create for unknown client", http.MethodPost, "/v1/clients/00000000-0000-4000-8000-000000000000/secrets", 404},
		{"unknown secret", http.MethodDelete, "/v1/clients/" + id + "/secrets/00000000-0000-4000-8000-000000000000", 404},
		{"malformed secret id", http.MethodDelete, "/v1/clients/" + id + "/secrets/x", 404},
		{"wrong method on collection", http.MethodPut, "/v1/clients/" + id + "/secrets", 405},
		{"wrong method on item", http.MethodGet, "/v1/clients/" + id + "/secrets/00000000-0000-4000-8000-000000000000", 405},
	} {
		t.Run(c.name, func(t *testing.T) {
			assertProblem(t, send(t, c.method, c.path, admin, map[string]any{"value": "long-enough", "description": "d"}), c.status)
		})
	}
}
