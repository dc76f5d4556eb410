package secretsapi

import (
	"reflect"
	"testing"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/oauth/clientkey"
	"github.com/machine-iam/machine-iam/shared/oauth/federation"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// TestWireFieldsAreClassified maps each JSON member of the secret and key
// wire types to the domain field it carries, which must be classified
// (secret.Fields, clientkey.Fields, federation.Fields). "expired" is derived from Expiration.
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
	federated := map[string]string{"id": "ID", "type": "Type", "issuer": "Issuer", "subject": "Subject", "audience": "Audience",
		"claims": "Claims", "jwks": "JWKS", "principal": "Principal", "roleId": "RoleID", "description": "Description", "createdAt": "CreatedAt",
		"lastUsedAt": "LastUsedAt"}
	if missing := policy.UnclassifiedWire(federated, federation.Fields, reflect.TypeFor[wire.FederatedCredential](), reflect.TypeFor[wire.FederatedCredentialRequest]()); len(missing) > 0 {
		t.Errorf("federated credential JSON members not mapped to a classified field: %v", missing)
	}
}
