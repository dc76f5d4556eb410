package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/machine-iam/machine-iam/shared/oauth/federation"
	"github.com/machine-iam/machine-iam/shared/oauth/lockout"
	"github.com/machine-iam/machine-iam/shared/runtime/fault"
	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// Federated credentials live in their client's partition beside its
// secrets and keys, so the token endpoint reads them in its one Query:
//
//	federated cred   T#<t>#S#client-<id>         A#FED#<credId>            (type, issuer, subject, …)
//	trusted by       T#<t2>#S#client-<x>         X#TRUSTEDBY#<sha256(aud)>#<t>#<id>#<credId>
//
// A credential whose issuer is another tenant (t2) of the deployment names
// one client x of it exactly; the trusted-by item, in x's partition, lets
// the no-escalation rule see that x's credentials are worth what the
// trusting client holds (store.FederatedCredentials.TrustedBy). Both are
// written and deleted in one transaction; deleting the trusting client
// deletes its trusted-by items too (finishDelete), deleting x does not: the
// credential still trusts x's id, which a client created later with the
// same chosen id would inherit. Anyone in another tenant
// can write such items, as many as it has clients and credentials, so they
// sort outside every range x's own reads cover (its credentials for the
// token endpoint, its grants for decisions), and are read only to learn
// whether one exists for an audience x's tokens may carry: one Query of
// one item per audience, however many there are.
const (
	skFederatedPrefix = "A#FED#"
	skTrustedByPrefix = "X#TRUSTEDBY#"

	attrFederatedCount = "federatedCount"
	attrType           = "type"
	attrIssuer         = "issuer"
	attrAudience       = "audience"
	attrClaims         = "claims"
	attrJWKS           = "jwks"
	attrPrincipal      = "principal"
	attrRoleID         = "roleId"
	attrTrustedTenant  = "trustedTenant"
	attrTrustedSubject = "trustedSubject"
)

func federatedSK(credID string) string { return skFederatedPrefix + credID }

// trustedByAudience is the sort key prefix of the trusted-by items for
// audience: its digest, so that any audience makes a key of fixed length.
func trustedByAudience(audience string) string {
	d := sha256.Sum256([]byte(audience))
	return skTrustedByPrefix + hex.EncodeToString(d[:]) + "#"
}

func trustedBySK(audience, tenant, clientID, credID string) string {
	return trustedByAudience(audience) + tenant + "#" + clientID + "#" + credID
}

func federatedItem(tenant, clientID string, c federation.Credential) item {
	it := item{
		attrPK: str(clientPK(tenant, clientID)), attrSK: str(federatedSK(c.ID)),
		attrID: str(c.ID), attrType: str(c.Type), attrDescription: str(c.Description), attrCreatedAt: timestamp(c.CreatedAt),
	}
	for name, v := range map[string]string{attrIssuer: c.Issuer, attrSubject: c.Subject, attrAudience: c.Audience,
		attrJWKS: string(c.JWKS), attrPrincipal: c.Principal, attrRoleID: c.RoleID,
		attrTrustedTenant: c.TrustedTenant, attrTrustedSubject: c.TrustedSubject} {
		if v != "" {
			it[name] = str(v)
		}
	}
	if len(c.Claims) > 0 {
		it[attrClaims] = strMap(c.Claims)
	}
	return it
}

func federatedFromItem(it item) federation.Credential {
	c := federation.Credential{ID: getS(it, attrID), Type: getS(it, attrType), Issuer: getS(it, attrIssuer),
		Subject: getS(it, attrSubject), Audience: getS(it, attrAudience), Claims: getStrMap(it, attrClaims),
		Principal: getS(it, attrPrincipal), RoleID: getS(it, attrRoleID),
		TrustedTenant: getS(it, attrTrustedTenant), TrustedSubject: getS(it, attrTrustedSubject),
		Description: getS(it, attrDescription), CreatedAt: getTime(it, attrCreatedAt)}
	if j := getS(it, attrJWKS); j != "" {
		c.JWKS = []byte(j)
	}
	return c
}

// trustedByKey is the key of the trusted-by item of c, a credential of
// clientID in tenant; false when c trusts no client of another tenant.
func trustedByKey(tenant, clientID string, c federation.Credential) (item, bool) {
	if c.TrustedTenant == "" || c.TrustedSubject == "" {
		return nil, false
	}
	return key(subjectPK(c.TrustedTenant, c.TrustedSubject), trustedBySK(c.Audience, tenant, clientID, c.ID)), true
}

// ListFederatedCredentials implements store.FederatedCredentials.
func (s *Store) ListFederatedCredentials(ctx context.Context, tenant, clientID string) ([]federation.Credential, error) {
	rec, err := s.liveCredentials(ctx, tenant, clientID)
	return rec.Federated, err
}

// CreateFederatedCredential implements store.FederatedCredentials: one
// transaction counts it on the client item (which must exist, not be
// deleting, and hold fewer than max), puts it, and puts its trusted-by
// item, if any.
func (s *Store) CreateFederatedCredential(ctx context.Context, tenant, clientID string, c federation.Credential, max int) error {
	var also []types.TransactWriteItem
	if k, ok := trustedByKey(tenant, clientID, c); ok {
		k[attrCreatedAt] = timestamp(c.CreatedAt)
		k[attrAudience] = str(c.Audience)
		also = append(also, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: k}})
	}
	return s.addCounted(ctx, clientPK(tenant, clientID), attrFederatedCount, max, federatedItem(tenant, clientID, c), also...)
}

// DeleteFederatedCredential implements store.FederatedCredentials: the
// credential is found among the client's, then deleted with its
// trusted-by item and uncounted in one transaction.
func (s *Store) DeleteFederatedCredential(ctx context.Context, tenant, clientID, credentialID string) error {
	creds, err := s.ListFederatedCredentials(ctx, tenant, clientID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(creds, func(c federation.Credential) bool { return c.ID == credentialID })
	if i < 0 {
		return store.ErrNotFound
	}
	pk := clientPK(tenant, clientID)
	steps := []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &s.table, Key: key(pk, federatedSK(credentialID)),
			ConditionExpression: aws.String("attribute_exists(PK)")}},
		{Update: &types.Update{TableName: &s.table, Key: key(pk, skClient),
			UpdateExpression:          aws.String("ADD #count :minus"),
			ConditionExpression:       aws.String("attribute_exists(PK) AND attribute_not_exists(deleting)"),
			ExpressionAttributeNames:  map[string]string{"#count": attrFederatedCount},
			ExpressionAttributeValues: item{":minus": num(-1)}}},
	}
	if k, ok := trustedByKey(tenant, clientID, creds[i]); ok {
		steps = append(steps, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: k}})
	}
	_, err = s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: steps})
	if reasons := cancellation(err); failedCondition(reasons, 0) || failedCondition(reasons, 1) {
		return store.ErrNotFound
	}
	if err != nil {
		return fault.Unavailable("dynamodb:TransactWriteItems", err)
	}
	return nil
}

// GetFederationRecord implements store.FederatedCredentials: the client's
// A# items, the address's current attempt count and the last uses of the
// client's federated credentials, read at the same time.
func (s *Store) GetFederationRecord(ctx context.Context, tenant, clientID, addressKey, address string, window time.Time) (store.CredentialRecord, error) {
	var counts item
	var used []item
	var countErr, usedErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table,
			Key: key(tokenPK(tenant, addressKey), attemptsSK(window)), ConsistentRead: aws.Bool(true)})
		if err == nil {
			counts = out.Item
		}
		countErr = err
	}()
	go func() {
		defer wg.Done()
		// Eventually consistent: a stale last use costs at most one
		// conditional write that changes nothing.
		out, err := s.api.Query(ctx, &dynamodb.QueryInput{
			TableName:                 &s.table,
			KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :used)"),
			ExpressionAttributeValues: item{":pk": str(tokenPK(tenant, clientID)), ":used": str(skLastUsedPrefix + skFederatedPrefix)},
		})
		if err == nil {
			used = out.Items
		}
		usedErr = err
	}()
	creds, err := s.api.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :credentials)"),
		ExpressionAttributeValues: item{":pk": str(clientPK(tenant, clientID)), ":credentials": str(skCredentialsPrefix)},
		ConsistentRead:            aws.Bool(true),
	})
	wg.Wait()
	if err = errors.Join(err, countErr, usedErr); err != nil {
		return store.CredentialRecord{}, fault.Unavailable("dynamodb:Query", err)
	}
	rec := credentialRecord(creds.Items)
	applyLastUsed(&rec, lastUsed(used))
	rec.Attempts = lockout.Counts{FromAddress: int(getN(counts, addressAttr(address))), Total: int(getN(counts, attrTotal))}
	return rec, nil
}

// TrustedBy implements store.FederatedCredentials: for each audience, one
// Query of at most one trusted-by item; a trusting credential accepts only
// tokens for its audience, which the client gets only when its
// allowedAudiences name it.
func (s *Store) TrustedBy(ctx context.Context, tenant, clientID string, audiences []string) ([]string, error) {
	var out []string
	for _, aud := range slices.Compact(slices.Sorted(slices.Values(audiences))) {
		res, err := s.api.Query(ctx, &dynamodb.QueryInput{
			TableName:                 &s.table,
			KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :aud)"),
			ExpressionAttributeValues: item{":pk": str(clientPK(tenant, clientID)), ":aud": str(trustedByAudience(aud))},
			ConsistentRead:            aws.Bool(true),
			Limit:                     aws.Int32(1),
		})
		if err != nil {
			return nil, fault.Unavailable("dynamodb:Query", err)
		}
		for _, it := range res.Items {
			rest := strings.TrimPrefix(getS(it, attrSK), trustedByAudience(aud))
			t, rest, _ := strings.Cut(rest, "#")
			cid, _, _ := strings.Cut(rest, "#")
			if v := t + "/client-" + cid; !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out, nil
}
