package secretsapi

import (
	"reflect"
	"testing"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/oauth/clientkey"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// TestWireFieldsAreClassified maps each JSON member of the secret and key
// wire types to the domain field it carries, which must be classified
// (secret.Fields, clientkey.Fields). "expired" is derived from Expiration.
func TestWireFieldsAreClassified(t *testing.T) {
	secrets := map[string]string{"id": "ID", "description": "Description", "expiration": "Expiration", "createdAt": "CreatedAt",
		"expired": "Expiration", "value": "Value", "lastUsedAt": "LastUsedAt"}
	if missing := policy.UnclassifiedWire(secrets, secret.Fields, reflect.TypeFor[wire.CreatedSecret](), reflect.TypeFor[wire.SecretRequest]()); len(missing) > 0 {
		t.Errorf("secret JSON members not mapped to a classified field: %v", missing)
	}
	keys := map[string]string{"id": "ID", "kid": "Kid", "alg": "Alg", "description": "Description", "expiration": "Expiration",
		"createdAt": "CreatedAt", "expired": "Expiration", "jwk": "JWK", "lastUsedAt": "LastUsedAt"}
	if missing := policy.UnclassifiedWire(keys, clientkey.Fields, reflect.TypeFor[wire.Key](), reflect.TypeFor[wire.KeyRequest]()); len(missing) > 0 {
		t.Errorf("key JSON members not mapped to a classified field: %v", missing)
	}
}
