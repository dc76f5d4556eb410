package route

import (
	"maps"
	"testing"
)

func TestMatchPrefersLiteralsFromTheLeft(t *testing.T) {
	var tb Table[string]
	for _, p := range []string{
		"/v1/subjects/{subjectId}/permissions",
		"/v1/subjects/{subjectId}/memberships",
		"/v1/subjects/groups/{groupId}",
		"/v1/subjects/groups",
		"/v1/subjects/clients",
		"/{tenant}/connect/token",
		"/connect/token",
		"/files/{path+}",
		"/",
	} {
		if err := tb.Add(p, p); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		path, want string
		params     map[string]string
	}{
		{"/v1/subjects/groups/permissions", "/v1/subjects/groups/{groupId}", map[string]string{"groupId": "permissions"}},
		{"/v1/subjects/group-1/permissions", "/v1/subjects/{subjectId}/permissions", map[string]string{"subjectId": "group-1"}},
		{"/v1/subjects/groups", "/v1/subjects/groups", map[string]string{}},
		{"/connect/token", "/connect/token", map[string]string{}},
		{"/acme/connect/token", "/{tenant}/connect/token", map[string]string{"tenant": "acme"}},
		{"/files/a/b/c", "/files/{path+}", map[string]string{"path": "a/b/c"}},
		{"/", "/", map[string]string{}},
	}
	for _, c := range cases {
		v, _, params, ok := tb.Match(c.path)
		if !ok || v != c.want || !maps.Equal(params, c.params) {
			t.Errorf("%s: %q %v %v, want %q %v", c.path, v, params, ok, c.want, c.params)
		}
	}
	for _, miss := range []string{"/files", "/v1/subjects", "/v1/subjects/x/y/z", "/connect/token/x", "relative"} {
		if v, _, _, ok := tb.Match(miss); ok {
			t.Errorf("%s matched %q", miss, v)
		}
	}
}

func TestAddRejects(t *testing.T) {
	var tb Table[int]
	_ = tb.Add("/a/{x}", 1)
	for _, p := range []string{"/a/{y}", "a", "/a//b", "/{p+}/x"} {
		if err := tb.Add(p, 2); err == nil {
			t.Errorf("%s accepted", p)
		}
	}
}
