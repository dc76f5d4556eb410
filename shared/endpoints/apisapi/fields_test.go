package apisapi

import (
	"reflect"
	"testing"

	"github.com/machine-iam/machine-iam/shared/iam/apis"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// TestWireFieldsAreClassified maps each JSON member of the API wire types to
// the apis.API field it carries, and each member of the decision types to
// DecisionFields; every one must be classified.
func TestWireFieldsAreClassified(t *testing.T) {
	api := map[string]string{"apiId": "ID", "identifier": "Identifier", "name": "Name", "description": "Description",
		"discoverable": "Discoverable", "scopes": "Scopes", "actions": "Actions", "builtin": "Builtin",
		"provenance": "Provenance", "createdAt": "CreatedAt", "updatedAt": "UpdatedAt",
		// The members of a scope or an action entry are part of it.
		"action": "Actions", "parent": "Actions"}
	if missing := policy.UnclassifiedWire(api, apis.Fields, reflect.TypeFor[wire.APIRequest](), reflect.TypeFor[wire.API](),
		reflect.TypeFor[wire.APIAction]()); len(missing) > 0 {
		t.Fatalf("API JSON members not mapped to a classified field: %v", missing)
	}
	scope := map[string]string{"name": "Scopes", "description": "Scopes"}
	if missing := policy.UnclassifiedWire(scope, apis.Fields, reflect.TypeFor[wire.APIScope]()); len(missing) > 0 {
		t.Fatalf("scope members: %v", missing)
	}
	decision := map[string]string{"token": "Token", "subject": "Subject", "checks": "Checks", "action": "Action", "scope": "Scope",
		"allowed": "Allowed", "active": "Active", "decisions": "Decisions", "ttl": "TTL", "aud": "Audiences",
		"client_id": "ClientID", "exp": "Expiry"}
	if missing := policy.UnclassifiedWire(decision, DecisionFields, reflect.TypeFor[wire.DecisionRequest](), reflect.TypeFor[wire.DecisionCheck](),
		reflect.TypeFor[wire.DecisionAnswer](), reflect.TypeFor[wire.Decisions]()); len(missing) > 0 {
		t.Fatalf("decision members: %v", missing)
	}
}
