package clientsapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

// oneClient is a Store holding one client at version 3; only GetClient is
// called by expectedVersion.
type oneClient struct{ Store }

func (oneClient) GetClient(context.Context, string, string) (client.Client, error) {
	return client.Client{Version: 3}, nil
}

// TestExpectedVersion: If-Match as RFC 9110 §13.1.1 defines it. Absent or
// empty is unconditional, * needs only the client, strong tags name
// versions, weak tags are well-formed and never match (412), and anything
// that is no entity tag at all is a 400 naming the header.
func TestExpectedVersion(t *testing.T) {
	s := &Service{Clients: oneClient{}}
	for _, c := range []struct {
		ifMatch []string
		want    int64
		status  int // 0: no error
	}{
		{nil, 0, 0},
		{[]string{""}, 0, 0},
		{[]string{"*"}, 0, 0},
		{[]string{`"3"`}, 3, 0},
		{[]string{`"7"`}, 7, 0}, // the write finds the mismatch, atomically
		{[]string{`"5", "3"`}, 3, 0},
		{[]string{`"5"`, `"3"`}, 3, 0},
		{[]string{`"5", "6"`}, 0, http.StatusPreconditionFailed},
		{[]string{`W/"3"`}, 0, http.StatusPreconditionFailed},
		{[]string{`W/"3", W/"4"`}, 0, http.StatusPreconditionFailed},
		{[]string{`"03"`}, 0, http.StatusPreconditionFailed},
		{[]string{`"x"`}, 0, http.StatusPreconditionFailed},
		{[]string{`"3,4"`}, 0, http.StatusPreconditionFailed},
		{[]string{", , ,"}, 0, http.StatusBadRequest},
		{[]string{"", "", "", ""}, 0, http.StatusBadRequest}, // ", , ," as the Lambda adapter passes it on
		{[]string{"garbage"}, 0, http.StatusBadRequest},
		{[]string{"3"}, 0, http.StatusBadRequest},
		{[]string{`*, "3"`}, 0, http.StatusBadRequest},
		{[]string{`"3"`, "garbage"}, 0, http.StatusBadRequest},
	} {
		r := httptest.NewRequest(http.MethodPut, "/v1/clients/x", nil)
		for _, v := range c.ifMatch {
			r.Header.Add("If-Match", v)
		}
		got, err := s.expectedVersion(r, "default", "x")
		status := 0
		if err != nil {
			status = httpapi.Problem(err).Status
		}
		if got != c.want || status != c.status {
			t.Errorf("If-Match %q: version %d, status %d (%v); want %d, %d", c.ifMatch, got, status, err, c.want, c.status)
		}
		var e *httpapi.Error
		if status == http.StatusBadRequest && (!errors.As(err, &e) || len(e.Fields["If-Match"]) == 0) {
			t.Errorf("If-Match %q: the 400 does not name the header: %v", c.ifMatch, err)
		}
	}
}
