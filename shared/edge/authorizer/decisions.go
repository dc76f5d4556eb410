package authorizer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// answer is one decision as the service gave it, for one token, action and
// resource.
type answer struct {
	active  bool
	allowed bool
	ttl     time.Duration
}

// decisionsWire is the body of POST /v1/decisions: the caller's token, never
// a subject, so the service checks the token (revocation, kill switch,
// audience) as well as the policies.
type decisionsWire struct {
	Token  string      `json:"token"`
	Checks []checkWire `json:"checks"`
}

type checkWire struct {
	Action string `json:"action"`
	Scope  string `json:"scope"`
}

type answerWire struct {
	Active    bool `json:"active"`
	Decisions []struct {
		Action  string `json:"action"`
		Scope   string `json:"scope"`
		Allowed bool   `json:"allowed"`
	} `json:"decisions"`
	TTL int64 `json:"ttl"`
}

// errUnavailable wraps every failure to get a decision: the request is
// refused (fail closed) and the gateway answers with an error, not a 403.
var errUnavailable = errors.New("the decision service cannot be reached")

// decider asks the service's decision endpoint as the authorizer's own
// client.
type decider struct {
	endpoint string // <base>/v1/decisions
	own      *ownToken
	client   *http.Client
}

func (d *decider) decide(ctx context.Context, token, action, resource string) (answer, error) {
	for attempt := 0; ; attempt++ {
		own, err := d.own.get(ctx)
		if err != nil {
			return answer{}, fmt.Errorf("%w: %w", errUnavailable, err)
		}
		a, status, err := d.ask(ctx, own, token, action, resource)
		if status == http.StatusUnauthorized && attempt == 0 {
			// Our own token was refused (revoked, or a key rotated out):
			// fetch another once.
			d.own.drop(own)
			continue
		}
		if err != nil {
			return answer{}, fmt.Errorf("%w: %w", errUnavailable, err)
		}
		return a, nil
	}
}

func (d *decider) ask(ctx context.Context, own, token, action, resource string) (answer, int, error) {
	body, _ := json.Marshal(decisionsWire{Token: token, Checks: []checkWire{{Action: action, Scope: resource}}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.endpoint, bytes.NewReader(body))
	if err != nil {
		return answer{}, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+own)
	resp, err := d.client.Do(req)
	if err != nil {
		return answer{}, 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxDocument))
	if resp.StatusCode != http.StatusOK {
		// 403: this client lacks iam.decision.check on the API; 400: the
		// action is not one to ask about. Both are configuration errors,
		// refused like an outage, with the problem's title for the log.
		var problem struct {
			Title  string `json:"title"`
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(raw, &problem)
		return answer{}, resp.StatusCode, fmt.Errorf("POST %s: %s %s %s", d.endpoint, resp.Status, problem.Title, problem.Detail)
	}
	var w answerWire
	if err := json.Unmarshal(raw, &w); err != nil {
		return answer{}, resp.StatusCode, fmt.Errorf("POST %s: unreadable answer: %w", d.endpoint, err)
	}
	if len(w.Decisions) != 1 || w.Decisions[0].Action != action || w.Decisions[0].Scope != resource || w.TTL < 0 {
		return answer{}, resp.StatusCode, fmt.Errorf("POST %s: the answer is not for the check asked", d.endpoint)
	}
	return answer{active: w.Active, allowed: w.Active && w.Decisions[0].Allowed, ttl: time.Duration(w.TTL) * time.Second}, resp.StatusCode, nil
}

// answers caches decisions by token, action and resource (the resource
// with its parameters filled: an answer for /orders/1 is never one for
// /orders/2), each for at most the ttl the service gave it.
type answers struct {
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[answerKey]cached
}

type answerKey struct {
	token            [sha256.Size]byte // the token's hash: the cache holds no bearer token
	action, resource string
}

type cached struct {
	allowed bool
	claims  Claims
	until   time.Time
}

func keyOf(token, action, resource string) answerKey {
	return answerKey{sha256.Sum256([]byte(token)), action, resource}
}

func (c *answers) get(k answerKey) (cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || !c.now().Before(e.until) {
		return cached{}, false
	}
	return e, true
}

func (c *answers) put(k answerKey, e cached) {
	if c.max <= 0 || !c.now().Before(e.until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[answerKey]cached{}
	}
	if len(c.entries) >= c.max {
		now := c.now()
		for key, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, key)
			}
		}
		// Still full of live answers: drop any one; the next request for it
		// asks again.
		for key := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, key)
		}
	}
	c.entries[k] = e
}
