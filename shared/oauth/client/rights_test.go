package client

import (
	"reflect"
	"testing"
	"time"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
)

// mutate changes field name of the struct v points to, whatever its type,
// and reports whether it knew how.
func mutate(v reflect.Value, name string) bool {
	f := v.Elem().FieldByName(name)
	switch x := f.Interface().(type) {
	case string:
		f.SetString(x + "-changed")
	case []string:
		f.Set(reflect.ValueOf(append(append([]string{}, x...), "https://changed.example")))
	case map[string]string:
		m := map[string]string{"changed": "yes"}
		for k, val := range x {
			m[k] = val
		}
		f.Set(reflect.ValueOf(m))
	case time.Duration:
		f.SetInt(int64(x + time.Minute))
	case time.Time:
		f.Set(reflect.ValueOf(x.Add(time.Hour)))
	case int64:
		f.SetInt(x + 1)
	default:
		return false
	}
	return true
}

// TestEveryFieldIsClassified is the guard of the no-escalation rule against
// new fields: every field of Client and Spec must be classified in Fields;
// changing a rights-bearing one must change TokenRights (so the one check,
// access.Guard.RequireMayChange, sees it), and changing a neutral one must
// not. Server-set fields cannot be in Spec, which is what callers write.
func TestEveryFieldIsClassified(t *testing.T) {
	base := Spec{Name: "n", Description: "d", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"api"},
		RedirectURIs: []string{"https://a.example/cb"}, Audiences: []string{"https://api.example"}, TokenLifetime: time.Hour,
		TokenClaims: map[string]string{"team": "a"}}
	if missing := policy.Unclassified(Fields, reflect.TypeFor[Client](), reflect.TypeFor[Spec]()); len(missing) > 0 {
		t.Errorf("not classified in client.Fields (say whether each bears rights): %v", missing)
	}
	for f := range reflect.TypeFor[Spec]().Fields() {
		if Fields[f.Name] == policy.ServerSet {
			t.Errorf("Spec.%s is classified as server-set, but callers write Spec", f.Name)
		}
	}
	specType := reflect.TypeFor[Spec]()
	for name, class := range Fields {
		if _, inSpec := specType.FieldByName(name); !inSpec {
			if class == policy.SetAtCreate {
				// Fixed at creation: changing it must not change TokenRights.
				c := Client{Tenant: "t", ID: "1", Spec: base}
				before := c.TokenRights()
				c.ID = "chosen-id"
				if !before.Equal(c.TokenRights()) {
					t.Errorf("%s is set at creation (neutral) but changing it changes TokenRights", name)
				}
				continue
			}
			if class != policy.ServerSet {
				t.Errorf("%s is classified %v but callers cannot set it: only Spec fields may bear rights or be neutral", name, class)
			}
			continue
		}
		asClient := Client{Tenant: "t", ID: "1", Spec: base}
		asSpec := base
		for _, holder := range []any{&asSpec, &asClient} {
			v := reflect.ValueOf(holder)
			before := rightsOf(holder)
			if !mutate(v, name) {
				t.Fatalf("the test cannot change %s: teach mutate its type", name)
			}
			changed := !before.Equal(rightsOf(holder))
			switch {
			case class == policy.RightsBearing && !changed:
				t.Errorf("%T.%s is rights-bearing but changing it leaves TokenRights as they were: the no-escalation check would not see it", holder, name)
			case class == policy.Neutral && changed:
				t.Errorf("%T.%s is neutral but changing it changes TokenRights", holder, name)
			}
		}
	}
}

func rightsOf(v any) policy.TokenRights {
	if c, ok := v.(*Client); ok {
		return c.TokenRights()
	}
	return v.(*Spec).TokenRights()
}

func TestReachesManagement(t *testing.T) {
	const mgmt = "https://issuer.example/resources"
	cases := []struct {
		name string
		spec Spec
		want bool
	}{
		{"default audience", Spec{GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"services.iam"}}, true},
		{"the management audience named", Spec{GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"services.iam"},
			Audiences: []string{"https://api.example", mgmt}}, true},
		{"restricted to another API", Spec{GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"services.iam"},
			Audiences: []string{"https://api.example"}}, false},
		{"without services.iam", Spec{GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"api"}}, false},
		{"without client_credentials", Spec{GrantTypes: []string{GrantAuthorizationCode}, Scopes: []string{"services.iam"}}, false},
	}
	for _, c := range cases {
		if got := ReachesManagement(c.spec.TokenRights().Resolve(mgmt, time.Hour)); got != c.want {
			t.Errorf("%s: ReachesManagement = %v, want %v", c.name, got, c.want)
		}
	}
}
