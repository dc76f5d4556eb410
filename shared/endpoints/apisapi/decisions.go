package apisapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/iam/action"
	"github.com/machine-iam/machine-iam/shared/iam/apis"
	"github.com/machine-iam/machine-iam/shared/iam/policy"
	"github.com/machine-iam/machine-iam/shared/iam/resource"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/token"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// MaxChecks bounds one decision request.
const MaxChecks = 50

// DefaultDecisionTTL is how long a decision may be cached unless the
// deployment says otherwise.
const DefaultDecisionTTL = 60 * time.Second

type check struct {
	action, scope string
	api           apis.API
	known         bool
}

// readDecisionRequest decodes and validates a decision request.
func readDecisionRequest(w http.ResponseWriter, r *http.Request) (wire.DecisionRequest, []check, error) {
	var req wire.DecisionRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return req, nil, err
	}
	f := httpapi.Fields{}
	switch {
	case (req.Token == nil) == (req.Subject == nil):
		f.Add("token", "exactly one of token and subject is required")
	case req.Token != nil && (*req.Token == "" || len(*req.Token) > access.MaxTokenLength):
		f.Add("token", fmt.Sprintf("must be an access token of at most %d characters", access.MaxTokenLength))
	case req.Subject != nil:
		if kind, _, err := subject.Parse(*req.Subject); err != nil || kind != subject.Client {
			f.Add("subject", "must be a client's subject id, client-<clientId>")
		}
	}
	var checks []check
	if f.Required("checks", req.Checks != nil) {
		if n := len(*req.Checks); n < 1 || n > MaxChecks {
			f.Add("checks", fmt.Sprintf("must hold from 1 to %d checks", MaxChecks))
		}
		for i, c := range *req.Checks {
			field := fmt.Sprintf("checks[%d]", i)
			var k check
			if f.Required(field+".action", c.Action != nil) {
				switch k.action = *c.Action; {
				case !action.ValidName(k.action):
					f.Add(field+".action", "must be a dot-notation action name")
				case strings.HasPrefix(k.action, apis.ReservedActionPrefix):
					f.Add(field+".action", "is an action of this service's management API: ask POST /v1/permissions/check")
				}
			}
			if f.Required(field+".scope", c.Scope != nil) {
				sc, err := resource.Normalize(*c.Scope)
				if err != nil {
					f.Add(field+".scope", err.Error())
				}
				k.scope = sc
			}
			checks = append(checks, k)
		}
	}
	return req, checks, f.Err()
}

// decide answers POST /v1/decisions. It reads the tenant's APIs (one
// Query), then at the same time the caller's grants with its token's
// revocation (its permission to ask) and the asked-about subject's grants
// (with the token's revocation when asked by token).
func (s *Service) decide(w http.ResponseWriter, r *http.Request) error {
	req, checks, err := readDecisionRequest(w, r)
	if err != nil {
		return err
	}
	ctx, ten := r.Context(), access.TenantOf(r)
	reg, err := s.Catalogs.For(ctx, ten)
	if err != nil {
		return err
	}
	for i := range checks {
		checks[i].api, checks[i].known = reg.OwnerOf(checks[i].action)
	}
	needed := permissionsToAsk(checks, req.Subject)
	var claims token.Claims
	active, subj := false, ""
	if req.Subject != nil {
		subj = *req.Subject
	} else if claims, err = s.Verifier.Check(ctx, *req.Token, s.IssuerBase(r)); err == nil && claims.Tenant == ten {
		// A token of another tenant is no credential here, and says
		// nothing about that tenant.
		subj, active = claims.Subject, true
	} else if err != nil && !errors.Is(err, token.ErrInvalid) {
		return err
	}
	var g policy.Grants
	var subjErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		if subj != "" {
			g, active, subjErr = s.subjectGrants(ctx, ten, subj, claims)
		}
	}()
	allowed, allowErr := s.Guard.Authorizer.AuthorizeAll(ctx, access.PrincipalFrom(ctx), needed)
	<-done
	if err := mayAsk(needed, allowed, allowErr); err != nil {
		return err
	}
	if subjErr != nil {
		return subjErr
	}
	out := s.answer(req, checks, reg, g, active, subj, claims)
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// permissionsToAsk is what the caller must hold to ask: the decision
// action on each API whose actions it asks about (on / for actions of no
// registered API), and, asking about a subject, reading that client.
func permissionsToAsk(checks []check, subj *string) []access.Check {
	var needed []access.Check
	need := func(c access.Check) {
		if !slices.Contains(needed, c) {
			needed = append(needed, c)
		}
	}
	for _, c := range checks {
		if c.known {
			need(access.Check{Action: ActionDecision, Scope: "/apis/" + c.api.ID})
		} else {
			need(access.Check{Action: ActionDecision, Scope: resource.Root})
		}
	}
	if subj != nil {
		_, clientID, _ := subject.Parse(*subj)
		need(access.Check{Action: "iam.client.read", Scope: "/clients/" + clientID})
	}
	return needed
}

// mayAsk turns the caller's answers for needed into the request's refusal,
// if any.
func mayAsk(needed []access.Check, allowed []bool, err error) error {
	if errors.Is(err, access.ErrRevoked) {
		return httpapi.Unauthorized("The access token was revoked.")
	}
	if err != nil {
		return err
	}
	for i, ok := range allowed {
		if !ok {
			// The same words whichever API was refused: a caller learns
			// nothing about APIs it may not ask about.
			if needed[i].Action != ActionDecision {
				return httpapi.Forbidden("The caller is not allowed iam.client.read on the subject it asks about.")
			}
			return httpapi.Forbidden("The caller is not allowed " + ActionDecision + " on every API whose actions it asks about " +
				"(on /apis/{apiId} of each, or on / for actions of no registered API).")
		}
	}
	return nil
}

// answer decides each check for subj, who holds g: allowed when subj is
// active, the action is an API's and a policy grants it on the scope, and,
// asked by token, the token was minted for that API.
func (s *Service) answer(req wire.DecisionRequest, checks []check, reg *apis.Registry, g policy.Grants, active bool, subj string, claims token.Claims) wire.Decisions {
	out := wire.Decisions{Active: active, Decisions: make([]wire.DecisionAnswer, len(checks))}
	if active {
		out.Subject = subj
		out.TTL = int64(s.DecisionTTL / time.Second)
	}
	var aud []string
	if req.Token != nil && active {
		out.Aud, out.Scope, out.ClientID, out.Exp = claims.Audience, claims.Scope, claims.ClientID, claims.Expiry
		out.TTL = max(0, min(out.TTL, claims.Expiry-s.Now().Unix()))
		for _, a := range claims.Audience {
			if n, err := apis.NormalizeIdentifier(a); err == nil {
				aud = append(aud, n)
			}
		}
	}
	for i, c := range checks {
		allowed := active && c.known && len(policy.Evaluate(reg.Actions, g, c.action, c.scope)) > 0
		if req.Token != nil {
			// A token minted for another API is not a credential for
			// this one: no confused deputy.
			allowed = allowed && slices.Contains(aud, c.api.Identifier)
		}
		out.Decisions[i] = wire.DecisionAnswer{Action: c.action, Scope: c.scope, Allowed: allowed}
	}
	return out
}

// subjectGrants reads what subj holds and whether it is active: it exists
// and, asked about by token, the token is neither revoked nor under the
// client's kill switch.
func (s *Service) subjectGrants(ctx context.Context, ten, subj string, claims token.Claims) (policy.Grants, bool, error) {
	// Asked about by token, the token must still count; by subject, there
	// is none.
	var tok *access.TokenRef
	if claims.Subject != "" {
		tok = &access.TokenRef{ClientID: claims.ClientID, ID: claims.ID, IssuedAt: time.Unix(claims.IssuedAt, 0)}
	}
	g, err := access.TokenGrants(ctx, s.Store, ten, subj, tok)
	if errors.Is(err, store.ErrSubjectNotFound) || errors.Is(err, access.ErrRevoked) {
		return policy.Grants{}, false, nil
	}
	return g, err == nil, err
}
