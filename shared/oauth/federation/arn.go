package federation

import (
	"regexp"
	"strings"
	"sync"
)

// AWS principal patterns. A principal is an IAM role or user ARN,
// arn:<partition>:iam::<12-digit account>:role/<name> or .../user/<name>,
// with no path: the ARN that sts:GetCallerIdentity returns for an assumed
// role (arn:aws:sts::<account>:assumed-role/<name>/<session>) does not
// carry the role's path, so a pattern with one could never be checked. A
// "*" in the name stands for one or more characters other than "/" (see
// MatchSubject); the partition, account and kind are always exact. An
// assumed role is matched as its role ARN: the session name, which the
// caller chooses, never counts.

// The patterns are compiled on first use, not at start-up: their bounded
// repetitions make large programs (about 2 ms and 470 KB of a cold start
// when compiled eagerly), and most requests never need them.
var (
	principalRE = lazyRegexp(`^arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}):(role|user)/([\w+=,.@*-]{1,128})$`)
	roleIDRE    = lazyRegexp(`^AROA[A-Z0-9]{12,60}$`)
	// assumedRE and iamRE read the ARNs GetCallerIdentity returns.
	assumedRE = lazyRegexp(`^arn:(aws|aws-cn|aws-us-gov):sts::([0-9]{12}):assumed-role/([\w+=,.@-]{1,64})/[\w+=,.@-]{2,64}$`)
	iamRE     = lazyRegexp(`^arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}):(role|user)/(?:[\x21-\x7e]*/)?([\w+=,.@-]{1,128})$`)
)

func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// CheckPrincipal returns what is wrong with a principal pattern, or "".
func CheckPrincipal(p string) string {
	switch {
	case p == "":
		return "is required"
	case !principalRE().MatchString(p):
		return "must be arn:aws:iam::<12-digit account>:role/<name> or ...:user/<name>, without a path; " +
			`"*" may stand in the name only`
	case strings.Contains(p, "**"):
		return `must not hold "**"`
	case strings.HasSuffix(p, "/*"):
		return `must name more than "*": a pattern that admits every role of an account is too wide`
	}
	return ""
}

func validRoleID(id string) bool { return roleIDRE().MatchString(id) }

// Caller is who sts:GetCallerIdentity says signed a request.
type Caller struct {
	// ARN as STS returned it; Principal is the ARN it is matched as (an
	// assumed role's role ARN).
	ARN, Principal string
	// UniqueID is the role's or user's unique id (AROA…, AIDA…): the part
	// of UserId before ":".
	UniqueID string
	Account  string
}

// ParseCaller reads GetCallerIdentity's Arn and UserId; false for an ARN
// that is no role or user (a federated user, the account root).
func ParseCaller(arn, userID string) (Caller, bool) {
	uid, _, _ := strings.Cut(userID, ":")
	if m := assumedRE().FindStringSubmatch(arn); m != nil {
		return Caller{ARN: arn, Principal: "arn:" + m[1] + ":iam::" + m[2] + ":role/" + m[3], UniqueID: uid, Account: m[2]}, true
	}
	if m := iamRE().FindStringSubmatch(arn); m != nil {
		return Caller{ARN: arn, Principal: "arn:" + m[1] + ":iam::" + m[2] + ":" + m[3] + "/" + m[4], UniqueID: uid, Account: m[2]}, true
	}
	return Caller{}, false
}

// AcceptsCaller reports whether c (an AWS credential) matches caller.
func (c Credential) AcceptsCaller(caller Caller) bool {
	if c.Type != TypeAWS || !matchWild(c.Principal, caller.Principal, "/:") {
		return false
	}
	return c.RoleID == "" || c.RoleID == caller.UniqueID
}
