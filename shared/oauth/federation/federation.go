// Package federation holds federated credentials: what lets a client
// authenticate with an identity it already has instead of a stored secret.
// An OIDC credential trusts tokens of one issuer (a CI system, a
// Kubernetes cluster, another OIDC provider, another tenant of this
// deployment) whose subject and claims match; an AWS credential trusts
// callers of sts:GetCallerIdentity whose ARN matches. Nothing secret is
// stored.
package federation

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
)

// Kinds of credential.
const (
	TypeOIDC = "oidc"
	TypeAWS  = "aws"
)

// Limits.
const (
	MaxPerClient         = 20
	MaxDescriptionLength = 200
	MaxIssuerLength      = 300
	MaxSubjectLength     = 512
	MaxClaims            = 10
	MaxClaimLength       = 256
	MaxInlineJWKSBytes   = 16 << 10
	MaxInlineKeys        = 10
	// DefaultMaxTokenLifetime bounds how long an external token may still
	// live when presented, unless the deployment says otherwise: issuers
	// hand out tokens of minutes (GitHub Actions: 5 to 10), and one that
	// lives longer is worth more to whoever copies it.
	DefaultMaxTokenLifetime = time.Hour
	// Leeway tolerates clock skew on exp, nbf and iat.
	Leeway = 60 * time.Second
)

// Credential is a registered federated credential.
type Credential struct {
	ID   string
	Type string
	// OIDC.
	Issuer   string
	Subject  string
	Audience string
	Claims   map[string]string
	// JWKS, when set, is the issuer's key set given inline; the issuer is
	// then never fetched.
	JWKS json.RawMessage
	// AWS.
	Principal string
	RoleID    string
	// TrustedTenant and TrustedSubject are set when Issuer is another
	// tenant of this deployment: the client of that tenant whose tokens
	// this credential accepts (see the trust chains in docs/federation.md).
	TrustedTenant  string
	TrustedSubject string

	Description string
	CreatedAt   time.Time
	// LastUsedAt is when the credential last authenticated its client, to
	// within store.UseGranularity; nil when it has not since it was created.
	LastUsedAt *time.Time
}

// Fields classifies every field of Credential and Spec for the
// no-escalation rule (policy.FieldClass). A federated credential is a
// credential: it is created and deleted whole, under the rule for
// credentials of another client, and never changed.
var Fields = map[string]policy.FieldClass{
	"ID":             policy.ServerSet,
	"Type":           policy.RightsBearing,
	"Issuer":         policy.RightsBearing,
	"Subject":        policy.RightsBearing,
	"Audience":       policy.RightsBearing,
	"Claims":         policy.RightsBearing,
	"JWKS":           policy.RightsBearing,
	"Principal":      policy.RightsBearing,
	"RoleID":         policy.RightsBearing,
	"TrustedTenant":  policy.ServerSet,
	"TrustedSubject": policy.ServerSet,
	"Description":    policy.Neutral,
	"CreatedAt":      policy.ServerSet,
	"LastUsedAt":     policy.ServerSet,
}

// Spec is a request to register a credential. Pointers are members the
// body may leave out.
type Spec struct {
	Type        string
	Issuer      string
	Subject     string
	Audience    string
	Claims      map[string]string
	JWKS        json.RawMessage
	Principal   string
	RoleID      string
	Description string
}

// Deployment is what a credential is checked against: the issuer base of
// this deployment and the tenant the credential is for.
type Deployment struct {
	IssuerBase string
	Tenant     string
	// AllowLocalIssuers admits http issuers (local development and tests).
	AllowLocalIssuers bool
}

// Issuer is the tenant's own issuer.
func (d Deployment) Issuer() string { return tenant.Issuer(d.IssuerBase, d.Tenant) }

// Parse validates s and returns the credential to store (without ID and
// CreatedAt), or, per JSON member, what is wrong.
func (s Spec) Parse(d Deployment) (Credential, map[string][]string) {
	errs := map[string][]string{}
	add := func(field, msg string) { errs[field] = append(errs[field], msg) }
	switch n := utf8.RuneCountInString(s.Description); {
	case strings.TrimSpace(s.Description) == "":
		add("description", "must not be empty")
	case n > MaxDescriptionLength:
		add("description", fmt.Sprintf("must be at most %d characters", MaxDescriptionLength))
	}
	c := Credential{Type: s.Type, Description: s.Description}
	switch s.Type {
	case TypeOIDC:
		for field, set := range map[string]bool{"principal": s.Principal != "", "roleId": s.RoleID != ""} {
			if set {
				add(field, "is for type aws only")
			}
		}
		s.parseOIDC(d, &c, add)
	case TypeAWS:
		for field, set := range map[string]bool{"issuer": s.Issuer != "", "subject": s.Subject != "", "audience": s.Audience != "",
			"claims": len(s.Claims) > 0, "jwks": len(s.JWKS) > 0} {
			if set {
				add(field, "is for type oidc only")
			}
		}
		if msg := CheckPrincipal(s.Principal); msg != "" {
			add("principal", msg)
		}
		if s.RoleID != "" && !validRoleID(s.RoleID) {
			add("roleId", "must be a role's unique id: AROA followed by 12 to 60 upper-case letters and digits")
		}
		c.Principal, c.RoleID = s.Principal, s.RoleID
	default:
		add("type", `must be "oidc" or "aws"`)
	}
	if len(errs) > 0 {
		return Credential{}, errs
	}
	return c, nil
}

func (s Spec) parseOIDC(d Deployment, c *Credential, add func(field, msg string)) {
	own := d.Issuer()
	switch msg := CheckIssuer(s.Issuer, d.AllowLocalIssuers); {
	case msg != "":
		add("issuer", msg)
	case s.Issuer == own:
		add("issuer", "is this tenant's own issuer: its clients act as themselves, not through one another")
	}
	other, isOther := OtherTenant(d.IssuerBase, s.Issuer)
	if isOther && other == d.Tenant {
		isOther = false
	}
	if msg := CheckSubject(s.Subject); msg != "" {
		add("subject", msg)
	} else if kind, _, err := subject.Parse(s.Subject); isOther && (err != nil || kind != subject.Client) {
		// Its tokens' subjects are client ids, and a record is left with
		// the client named: nowhere else.
		add("subject", "must be exact for an issuer that is another tenant of this deployment (client-<clientId>)")
	}
	aud := s.Audience
	if aud == "" {
		aud = own
	}
	if !AudienceOf(d.IssuerBase, d.Tenant, aud) {
		add("audience", "must be this tenant's issuer ("+own+") or a URI under it")
	}
	if len(s.Claims) > MaxClaims {
		add("claims", fmt.Sprintf("may hold at most %d conditions", MaxClaims))
	}
	for name, v := range s.Claims {
		switch {
		case name == "" || len(name) > MaxClaimLength || !printable(name):
			add("claims", fmt.Sprintf("names must be 1 to %d printable characters", MaxClaimLength))
		case registered(name):
			add("claims", fmt.Sprintf("%q is checked by the credential itself (issuer, subject, audience, lifetime)", name))
		case len(v) > MaxClaimLength || !printable(v):
			add("claims", fmt.Sprintf("the value of %q must be at most %d printable characters", name, MaxClaimLength))
		}
	}
	if len(s.JWKS) > 0 {
		// This deployment's issuers publish their keys: keys given inline
		// for one of them would let anyone mint its identities.
		if base := strings.TrimSuffix(d.IssuerBase, "/"); s.Issuer == base || strings.HasPrefix(s.Issuer, base+"/") {
			add("jwks", "must be absent for an issuer of this deployment: its published keys are used")
		} else if msg := checkJWKS(s.JWKS); msg != "" {
			add("jwks", msg)
		}
	}
	c.Issuer, c.Subject, c.Audience, c.Claims, c.JWKS = s.Issuer, s.Subject, aud, s.Claims, s.JWKS
	if isOther {
		c.TrustedTenant, c.TrustedSubject = other, s.Subject
	}
}

// registered are the claims a credential checks by its own members.
func registered(name string) bool {
	switch name {
	case "iss", "sub", "aud", "exp", "nbf", "iat":
		return true
	}
	return false
}

func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// CheckIssuer returns what is wrong with an issuer URL, or "": an https
// URL (http too when allowLocal) with a host, no query, fragment or user
// information, and no trailing slash (issuers are compared exactly, and
// discovery is at iss + "/.well-known/openid-configuration").
func CheckIssuer(iss string, allowLocal bool) string {
	if iss == "" {
		return "is required"
	}
	if len(iss) > MaxIssuerLength {
		return fmt.Sprintf("must be at most %d characters", MaxIssuerLength)
	}
	u, err := url.Parse(iss)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return "must be an absolute URL"
	case u.Scheme != "https" && !(allowLocal && u.Scheme == "http"):
		return "must be an https URL"
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(iss, "?") || strings.HasSuffix(iss, "#"):
		return "must have no user information, query or fragment"
	case strings.HasSuffix(iss, "/"):
		return "must not end with a slash: tokens carry the issuer exactly as the issuer writes it"
	case u.String() != iss:
		return "must be written in its plain form"
	}
	return ""
}

// OtherTenant reports whether iss is the issuer of a tenant of the
// deployment whose issuer base is base, and which.
func OtherTenant(base, iss string) (string, bool) {
	base = strings.TrimSuffix(base, "/")
	if iss == base {
		return tenant.Default, true
	}
	name, ok := strings.CutPrefix(iss, base+"/")
	if !ok || !tenant.Valid(name) || tenant.Reserved(name) {
		return "", false
	}
	return name, true
}

// AudienceOf reports whether aud is ten's issuer or a URI under it, and
// not another tenant's issuer or a URI under that (the default tenant's
// issuer is the base every other tenant's issuer is under).
func AudienceOf(base, ten, aud string) bool {
	iss := tenant.Issuer(base, ten)
	if aud == iss {
		return true
	}
	rest, ok := strings.CutPrefix(aud, iss+"/")
	if !ok || rest == "" || strings.ContainsAny(aud, "?#") || !printable(aud) {
		return false
	}
	for _, seg := range strings.Split(rest, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	if ten == tenant.Default {
		first, _, _ := strings.Cut(rest, "/")
		if tenant.Valid(first) && !tenant.Reserved(first) {
			return false
		}
	}
	return true
}

// checkJWKS returns what is wrong with an inline key set, or "".
func checkJWKS(raw json.RawMessage) string {
	if len(raw) > MaxInlineJWKSBytes {
		return fmt.Sprintf("must be at most %d bytes", MaxInlineJWKSBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) == 0 {
		return `must be a JSON Web Key Set ({"keys":[...]}) with at least one key`
	}
	if len(set.Keys) > MaxInlineKeys {
		return fmt.Sprintf("may hold at most %d keys", MaxInlineKeys)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			return "must hold public keys only"
		}
		if _, ok := keyAlgorithms(k); !ok {
			return "holds a key that is neither RSA (2048 bits or more), EC (P-256, P-384, P-521) nor Ed25519"
		}
	}
	return ""
}
