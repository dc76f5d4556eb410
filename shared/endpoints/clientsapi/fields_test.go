package clientsapi

import (
	"reflect"
	"testing"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// wireFields maps each JSON member of the client wire types to the
// client.Client field it carries, whose class (client.Fields) says whether
// a change to it goes through the no-escalation check.
var wireFields = map[string]string{
	"clientId": "ID", "subjectId": "ID", "name": "Name", "description": "Description",
	"allowedGrantTypes": "GrantTypes", "allowedScopes": "Scopes", "redirectUris": "RedirectURIs",
	"allowedAudiences": "Audiences", "accessTokenLifetime": "TokenLifetime", "tokenClaims": "TokenClaims",
	"provenance": "Provenance", "createdAt": "CreatedAt", "updatedAt": "UpdatedAt",
}

func TestWireFieldsAreClassified(t *testing.T) {
	if missing := policy.UnclassifiedWire(wireFields, client.Fields, reflect.TypeFor[wire.ClientRequest](), reflect.TypeFor[wire.Client]()); len(missing) > 0 {
		t.Fatalf("JSON members not mapped to a classified client field: %v", missing)
	}
}
