package tokenapi

import (
	"errors"
	"net/http"

	"github.com/machine-iam/machine-iam/shared/runtime/metric"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
)

// Reasons of refused client authentications (the Reason dimension): fixed
// words, never anything the caller sent.
const (
	reasonMissing          = "missing"           // no client authentication at all
	reasonMalformed        = "malformed"         // unreadable or more than one method
	reasonInvalidSecret    = "invalid_secret"    // unknown client, or no secret of its matched
	reasonInvalidAssertion = "invalid_assertion" // unknown client, or the assertion was refused
	reasonRefused          = "refused"           // refused otherwise (the client's state)
	reasonInvalidFederated = "invalid_federated" // unknown client, or no federated credential accepted the identity
)

// federatedMethod names a federated authentication (the AuthMethod
// dimension).
func federatedMethod(aws bool) string {
	if aws {
		return "federated_aws"
	}
	return "federated_oidc"
}

// method names how cr authenticates (the AuthMethod dimension).
func (cr presented) method() string {
	switch {
	case cr.jwt:
		return "private_key_jwt"
	case cr.basic:
		return "client_secret_basic"
	}
	return "client_secret_post"
}

// failureReason is the Reason of cr's failed authentication.
func (cr presented) failureReason() string {
	if cr.jwt {
		return reasonInvalidAssertion
	}
	return reasonInvalidSecret
}

// countRefusal counts an authentication that ended in err: a 429 of the
// lockout as a throttled attempt, another OAuth refusal as a failure for
// reason (reasonRefused when empty). A dependency's failure is no
// authentication failure: the dependency metrics count it.
func countRefusal(err error, reason string) {
	var oe *httpapi.OAuthError
	switch {
	case !errors.As(err, &oe):
	case oe.Status == http.StatusTooManyRequests:
		metric.Throttled()
	case reason == "":
		metric.AuthenticationFailed(reasonRefused)
	default:
		metric.AuthenticationFailed(reason)
	}
}
