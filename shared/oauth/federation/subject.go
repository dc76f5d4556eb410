package federation

import (
	"fmt"
	"strings"
)

// Wildcard is the one wildcard of subject and principal patterns.
const Wildcard = "*"

// Subject patterns. A subject is matched exactly, character for
// character, unless it holds a "*". A "*" stands for one or more characters
// none of which is ":" or "/", so it never reaches past the part of the
// subject it stands in: "repo:acme/*:ref:refs/heads/main" matches every
// repository of acme on its main branch, and not "repo:acme/x:ref:refs/heads/main:y",
// nor a repository of another owner, nor another ref; "repo:acme/orders:environment:*"
// matches each environment of one repository. A pattern needs at least one
// ":"-separated segment without a wildcard, so "*" alone, or "*:*", is
// refused. There is no escape: a subject that holds "*" itself cannot be
// matched exactly (no issuer we know of puts one there).

// CheckSubject returns what is wrong with a subject pattern, or "".
func CheckSubject(p string) string {
	switch {
	case p == "":
		return "is required"
	case len(p) > MaxSubjectLength:
		return fmt.Sprintf("must be at most %d characters", MaxSubjectLength)
	case !printable(p):
		return "must hold printable characters only"
	case strings.Contains(p, "**"):
		return `must not hold "**": one "*" stands for one or more characters other than ":" and "/"`
	}
	if !strings.Contains(p, Wildcard) {
		return ""
	}
	for _, seg := range strings.Split(p, ":") {
		if seg != "" && !strings.Contains(seg, Wildcard) {
			return ""
		}
	}
	return `needs at least one ":"-separated part without "*": a pattern of wildcards alone admits any subject`
}

// MatchSubject reports whether subject matches pattern (see CheckSubject).
func MatchSubject(pattern, subject string) bool {
	if !strings.Contains(pattern, Wildcard) {
		return pattern == subject
	}
	return matchWild(pattern, subject, ":/")
}

// matchWild matches s against p, where each "*" stands for one or more
// characters not in stops. Patterns are short and "**" is refused, so the
// backtracking stays small: at most one branch per "*" and character.
func matchWild(p, s, stops string) bool {
	star := strings.Index(p, Wildcard)
	if star < 0 {
		return p == s
	}
	lit := p[:star]
	if !strings.HasPrefix(s, lit) {
		return false
	}
	s, p = s[len(lit):], p[star+1:]
	// The wildcard takes 1..n characters, none a stop.
	n := 0
	for n < len(s) && !strings.ContainsRune(stops, rune(s[n])) {
		n++
	}
	for take := n; take >= 1; take-- {
		if matchWild(p, s[take:], stops) {
			return true
		}
	}
	return false
}
