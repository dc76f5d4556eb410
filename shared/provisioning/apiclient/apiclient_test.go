package apiclient

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// seen is a request as the fake API received it.
type seen struct {
	method, path, query, body, ifMatch, contentType string
}

// fakeAPI answers the token endpoint and then whatever answer returns for
// each request, recording the requests.
func fakeAPI(t *testing.T, answer func(r *http.Request) (int, http.Header, string)) (*Client, *[]seen) {
	t.Helper()
	var log []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/acme/connect/token" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"t","token_type":"Bearer","expires_in":300}`)
			return
		}
		if r.Header.Get("Authorization") != "Bearer t" {
			t.Errorf("%s %s without the token", r.Method, r.URL)
		}
		b, _ := io.ReadAll(r.Body)
		log = append(log, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(b), r.Header.Get("If-Match"), r.Header.Get("Content-Type")})
		status, h, body := answer(r)
		for k, v := range h {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(context.Background(), Credentials{BaseURL: srv.URL, Tenant: "acme", ClientID: "me", ClientSecret: "s"}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return c, &log
}

func TestCallsSayWhatTheySend(t *testing.T) {
	client := `{"clientId":"c1","subjectId":"client-c1","name":"n","description":"d","allowedGrantTypes":[],"allowedScopes":[],"redirectUris":[],"createdAt":"t","updatedAt":"t"}`
	api, log := fakeAPI(t, func(r *http.Request) (int, http.Header, string) {
		switch {
		case r.Method == http.MethodGet:
			return http.StatusOK, http.Header{"Etag": {`"3"`}}, client
		case r.Method == http.MethodPut:
			return http.StatusOK, nil, client
		}
		return http.StatusNotFound, nil, `{"type":"about:blank","title":"Not Found","status":404,"detail":"No such policy."}`
	})
	ctx := context.Background()
	rec, err := api.GetClient(ctx, "c1")
	if err != nil || rec.ETag != `"3"` || rec.Name != "n" {
		t.Fatalf("GetClient: %+v, %v", rec, err)
	}
	if _, err := api.ReplaceClient(ctx, "c1", wire.ClientSpec{Name: "m", Provenance: &wire.Provenance{Via: "api"}}, rec.ETag); err != nil {
		t.Fatal(err)
	}
	err = api.Revoke(ctx, wire.Policy{Subject: "client-c1", Action: "owner", Scope: "/", Tenant: "acme"})
	if !IsNotFound(err) || !strings.Contains(err.Error(), "No such policy.") {
		t.Fatalf("Revoke of a missing policy: %v", err)
	}
	if err := api.DeleteSecret(ctx, "c1", ".."); !IsNotFound(err) {
		t.Fatalf("DeleteSecret: %v", err)
	}
	want := []seen{
		{method: "GET", path: "/v1/clients/c1"},
		{method: "PUT", path: "/v1/clients/c1", ifMatch: `"3"`, contentType: "application/json",
			body: `{"name":"m","description":"","allowedGrantTypes":[],"allowedScopes":[],"redirectUris":[]}`},
		{method: "DELETE", path: "/v1/policies", contentType: "application/json", body: `{"subject":"client-c1","action":"owner","scope":"/"}`},
		{method: "DELETE", path: "/v1/clients/c1/secrets/%2E%2E"},
	}
	if !slices.Equal(*log, want) {
		t.Fatalf("requests\n%+v\nwant\n%+v", *log, want)
	}
}

func TestListingsFollowTheirPages(t *testing.T) {
	api, log := fakeAPI(t, func(r *http.Request) (int, http.Header, string) {
		q := r.URL.Query()
		switch {
		case r.URL.Path == "/v1/clients" && q.Get("cursor") == "":
			next := "/v1/clients?cursor=2&pageSize=200"
			b, _ := json.Marshal(wire.ClientList{Items: []wire.Client{{ClientID: "a"}}, Links: wire.Links{Next: &next}})
			return http.StatusOK, nil, string(b)
		case r.URL.Path == "/v1/clients":
			return http.StatusOK, nil, `{"items":[{"clientId":"b"}],"links":{"next":null}}`
		case q.Get("page") == "1":
			return http.StatusOK, nil, `{"page":1,"totalPages":2,"data":[{"id":"g1"}]}`
		}
		return http.StatusOK, nil, `{"page":2,"totalPages":2,"data":[{"id":"g2"}]}`
	})
	cs, err := api.ListClients(context.Background(), "x")
	if err != nil || len(cs) != 2 || cs[0].ClientID != "a" || cs[1].ClientID != "b" {
		t.Fatalf("ListClients: %+v, %v", cs, err)
	}
	gs, err := api.ListGroups(context.Background())
	if err != nil || len(gs) != 2 || gs[1].ID != "g2" {
		t.Fatalf("ListGroups: %+v, %v", gs, err)
	}
	if q := (*log)[0].query; q != "pageSize=200&searchText=x" {
		t.Fatalf("first listing query %q", q)
	}
	if q := (*log)[1].query; q != "cursor=2&pageSize=200" {
		t.Fatalf("next link query %q", q)
	}
}
