package token

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Reuse lifts the KMS ceiling on token issuance. A process remembers the
// tokens it issued and hands one out again to the same client asking for the
// same scopes at the same issuer while at least MinRemaining of its lifetime
// is left, instead of signing a new one. Credentials are still checked on
// every request, so a deleted client or secret gets nothing; what changes is
// only that callers asking often receive the same, still-valid token.
//
// Each token is remembered with the client's revocation state as the
// token request read it (its kill switch and how many of its tokens were
// revoked one by one): a token is handed out again only while that state is
// unchanged, so no revocation, of it or of any other token of the client, in
// this process or another, is ever undone by reuse.
type Reuse struct {
	// MinRemaining is the fraction (0–1) of a token's lifetime that must be
	// left for it to be handed out again.
	MinRemaining float64
	// Max bounds the number of remembered tokens.
	Max int

	mu     sync.Mutex
	tokens map[string]reusable
}

type reusable struct {
	raw    string
	claims Claims
	state  string
}

func reuseKey(g Grant) string {
	claims := make([]string, 0, len(g.Claims))
	for k, v := range g.Claims {
		claims = append(claims, k+"="+v)
	}
	slices.Sort(claims)
	return strings.Join([]string{g.Issuer, g.Tenant, g.ClientID, g.Subject, strings.Join(g.Scopes, " "),
		strings.Join(g.Audiences, " "), g.Lifetime.String(), strings.Join(claims, "\x01"), g.External.key()}, "\x00")
}

// Get returns a remembered token for g that is fresh enough at now and was
// minted while the client's revocation state was state.
func (r *Reuse) Get(g Grant, state string, now time.Time) (string, Claims, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.tokens[reuseKey(g)]
	if !ok || t.state != state || !r.fresh(t.claims, now) {
		return "", Claims{}, false
	}
	return t.raw, t.claims, true
}

func (r *Reuse) fresh(c Claims, now time.Time) bool {
	lifetime := float64(c.Expiry - c.IssuedAt)
	return float64(c.Expiry-now.Unix()) >= r.MinRemaining*lifetime
}

// Put remembers a token minted for g while the client's revocation state
// was state.
func (r *Reuse) Put(g Grant, state, raw string, c Claims, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tokens == nil {
		r.tokens = map[string]reusable{}
	}
	if len(r.tokens) >= r.Max {
		for k, t := range r.tokens {
			if !r.fresh(t.claims, now) {
				delete(r.tokens, k)
			}
		}
		// Still full: forget an arbitrary one; a miss only costs a signature.
		for k := range r.tokens {
			if len(r.tokens) < r.Max {
				break
			}
			delete(r.tokens, k)
		}
	}
	r.tokens[reuseKey(g)] = reusable{raw: raw, claims: c, state: state}
}
