package dynamo

import (
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/shared/iam/group"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/provenance"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/oauth/clientkey"
	"github.com/machine-iam/machine-iam/shared/oauth/secret"
)

// Item attribute names. Items are built and read by hand: the token path
// reads one partition per request and reflection-based marshalling would be
// its largest CPU cost.
const (
	attrName         = "name"
	attrDescription  = "description"
	attrGrantTypes   = "grantTypes"
	attrScopes       = "scopes"
	attrRedirectURIs = "redirectUris"
	attrAudiences    = "audiences"
	attrTokenLife    = "tokenLifetime"
	attrTokenClaims  = "tokenClaims"
	attrID           = "id"
	attrKid          = "kid"
	attrAlg          = "alg"
	attrJWK          = "jwk"
	attrKeyCount     = "keyCount"
	attrKilledAt     = "tokensRevokedAt"
	attrCreatedAt    = "createdAt"
	attrUpdatedAt    = "updatedAt"
	attrVersion      = "version"
	attrSecretCount  = "secretCount"
	attrDeleting     = "deleting"
	attrHash         = "hash"
	attrTag          = "tag"
	attrExpiration   = "expiration"
	attrDisplayName  = "displayName"
	attrMemberCount  = "memberCount"
	attrSubject      = "subject"
	attrAction       = "action"
	attrScope        = "scope"
	attrCount        = "count"
	attrNameLower    = "nameLower"
	attrClients      = "clients"
	attrGroups       = "groups"
	attrTotal        = "total"
	attrTTL          = "ttl"
	attrProvenance   = "provenance"
)

type item = map[string]types.AttributeValue

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func boolean(v bool) types.AttributeValue {
	return &types.AttributeValueMemberBOOL{Value: v}
}
func timestamp(t time.Time) types.AttributeValue { return str(t.UTC().Format(time.RFC3339Nano)) }

// list stores a string slice as a list, which keeps order and, unlike a
// string set, may be empty.
func list(vs []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(vs))
	for i, v := range vs {
		l[i] = str(v)
	}
	return &types.AttributeValueMemberL{Value: l}
}

func getS(it item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(it item, name string) int64 {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func getBool(it item, name string) bool {
	v, ok := it[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

func getList(it item, name string) []string {
	v, ok := it[name].(*types.AttributeValueMemberL)
	if !ok {
		return []string{}
	}
	out := make([]string, 0, len(v.Value))
	for _, e := range v.Value {
		if s, ok := e.(*types.AttributeValueMemberS); ok {
			out = append(out, s.Value)
		}
	}
	return out
}

// strMap stores a string map as a map attribute (possibly empty).
func strMap(m map[string]string) types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		out[k] = str(v)
	}
	return &types.AttributeValueMemberM{Value: out}
}

func getStrMap(it item, name string) map[string]string {
	v, ok := it[name].(*types.AttributeValueMemberM)
	if !ok || len(v.Value) == 0 {
		return nil
	}
	out := make(map[string]string, len(v.Value))
	for k, e := range v.Value {
		if s, ok := e.(*types.AttributeValueMemberS); ok {
			out[k] = s.Value
		}
	}
	return out
}

func unixOrZero(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0)
}

func getTime(it item, name string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, getS(it, name))
	return t
}

func clientItem(c client.Client) item {
	return item{
		attrPK: str(clientPK(c.Tenant, c.ID)), attrSK: str(skClient),
		attrGSI1PK: str(clientsGSI1PK(c.Tenant)), attrGSI1SK: str(nameKey(c.Name, c.ID)), attrNameLower: str(strings.ToLower(c.Name)),
		attrName: str(c.Name), attrDescription: str(c.Description),
		attrGrantTypes: list(c.GrantTypes), attrScopes: list(c.Scopes), attrRedirectURIs: list(c.RedirectURIs),
		attrAudiences: list(c.Audiences), attrTokenLife: num(int64(c.TokenLifetime / time.Second)), attrTokenClaims: strMap(c.TokenClaims),
		attrCreatedAt: timestamp(c.CreatedAt), attrUpdatedAt: timestamp(c.UpdatedAt),
		attrVersion: num(c.Version), attrSecretCount: num(0), attrPolicyCount: num(0), attrGroupCount: num(0),
		attrProvenance: provenanceValue(c.Provenance),
	}
}

// provenanceValue is a provenance record as one map attribute, written
// with the item and never updated.
func provenanceValue(r provenance.Record) types.AttributeValue {
	return strMap(map[string]string{"createdBy": r.CreatedBy, "via": r.Via, "document": r.Document, "name": r.Name,
		"stackId": r.StackID, "logicalId": r.LogicalID})
}

func provenanceOf(it item) provenance.Record {
	m := getStrMap(it, attrProvenance)
	return provenance.Record{CreatedBy: m["createdBy"], Label: provenance.Label{Via: m["via"], Document: m["document"], Name: m["name"],
		StackID: m["stackId"], LogicalID: m["logicalId"]}}
}

// subjectIDOf reads a client's or group's id from its partition key,
// T#<t>#S#<kind>-<id>.
func subjectIDOf(it item, kind subject.Kind) string {
	_, sid, _ := strings.Cut(getS(it, attrPK), "#S#")
	return strings.TrimPrefix(sid, subject.ID(kind, ""))
}

// tenantOf reads the tenant from a subject partition key, T#<t>#S#<subject>.
func tenantOf(it item) string {
	pk := strings.TrimPrefix(getS(it, attrPK), "T#")
	t, _, _ := strings.Cut(pk, "#")
	return t
}

func clientFromItem(it item) client.Client {
	tenant := tenantOf(it)
	return client.Client{
		Tenant: tenant, ID: subjectIDOf(it, subject.Client),
		Spec: client.Spec{
			Name: getS(it, attrName), Description: getS(it, attrDescription),
			GrantTypes: getList(it, attrGrantTypes), Scopes: getList(it, attrScopes), RedirectURIs: getList(it, attrRedirectURIs),
			Audiences: getList(it, attrAudiences), TokenLifetime: time.Duration(getN(it, attrTokenLife)) * time.Second,
			TokenClaims: getStrMap(it, attrTokenClaims),
		},
		TokensRevokedAt: unixOrZero(getN(it, attrKilledAt)),
		Provenance:      provenanceOf(it),
		CreatedAt:       getTime(it, attrCreatedAt), UpdatedAt: getTime(it, attrUpdatedAt),
		Version: getN(it, attrVersion),
	}
}

func secretItem(tenant, clientID string, s secret.Hashed) item {
	it := item{
		attrPK: str(clientPK(tenant, clientID)), attrSK: str(secretSK(s.ID)),
		attrDescription: str(s.Description), attrHash: str(s.Hash), attrCreatedAt: timestamp(s.CreatedAt),
	}
	if s.Expiration != nil {
		it[attrExpiration] = timestamp(*s.Expiration)
	}
	if s.Tag != "" {
		it[attrTag] = str(s.Tag)
	}
	return it
}

func secretFromItem(it item) secret.Hashed {
	s := secret.Hashed{
		Secret: secret.Secret{
			ID:          strings.TrimPrefix(getS(it, attrSK), skSecretPrefix),
			Description: getS(it, attrDescription),
			CreatedAt:   getTime(it, attrCreatedAt),
		},
		Hash: getS(it, attrHash),
		Tag:  getS(it, attrTag),
	}
	if _, ok := it[attrExpiration]; ok {
		t := getTime(it, attrExpiration)
		s.Expiration = &t
	}
	return s
}

func keyItem(tenant, clientID string, k clientkey.Key) item {
	it := item{
		attrPK: str(clientPK(tenant, clientID)), attrSK: str(keySK(k.Kid)),
		attrID: str(k.ID), attrKid: str(k.Kid), attrJWK: str(string(k.JWK)),
		attrDescription: str(k.Description), attrCreatedAt: timestamp(k.CreatedAt),
	}
	if k.Alg != "" {
		it[attrAlg] = str(k.Alg)
	}
	if k.Expiration != nil {
		it[attrExpiration] = timestamp(*k.Expiration)
	}
	return it
}

func keyFromItem(it item) clientkey.Key {
	k := clientkey.Key{ID: getS(it, attrID), Kid: getS(it, attrKid), Alg: getS(it, attrAlg),
		JWK: []byte(getS(it, attrJWK)), Description: getS(it, attrDescription), CreatedAt: getTime(it, attrCreatedAt)}
	if _, ok := it[attrExpiration]; ok {
		t := getTime(it, attrExpiration)
		k.Expiration = &t
	}
	return k
}

func groupItem(g group.Group) item {
	return item{
		attrPK: str(groupPK(g.Tenant, g.ID)), attrSK: str(skGroup),
		attrGSI1PK: str(groupsGSI1PK(g.Tenant)), attrGSI1SK: str(nameKey(g.DisplayName, g.ID)), attrNameLower: str(strings.ToLower(g.DisplayName)),
		attrDisplayName: str(g.DisplayName), attrDescription: str(g.Description),
		attrCreatedAt: timestamp(g.CreatedAt), attrMemberCount: num(0), attrPolicyCount: num(0),
		attrProvenance: provenanceValue(g.Provenance),
	}
}

func groupFromItem(it item) group.Group {
	return group.Group{
		Tenant: tenantOf(it), ID: subjectIDOf(it, subject.Group), DisplayName: getS(it, attrDisplayName),
		Description: getS(it, attrDescription), CreatedAt: getTime(it, attrCreatedAt), Provenance: provenanceOf(it),
	}
}

// policyItem keeps the triple in plain attributes too, so reading one needs
// no key parsing (scopes may hold any character a key separator could).
func policyItem(tenant string, p policy.Policy) item {
	return item{
		attrPK: str(subjectPK(tenant, p.Subject)), attrSK: str(policySK(p.Action, p.Scope)),
		attrGSI1PK: str(policiesGSI1PK(tenant)), attrGSI1SK: str(policyGSI1SK(p.Subject, p.Action, p.Scope)),
		attrSubject: str(p.Subject), attrAction: str(p.Action), attrScope: str(p.Scope),
		attrCreatedAt: timestamp(p.CreatedAt),
	}
}

func policyFromItem(it item) policy.Policy {
	return policy.Policy{Subject: getS(it, attrSubject), Action: getS(it, attrAction), Scope: getS(it, attrScope),
		CreatedAt: getTime(it, attrCreatedAt)}
}
