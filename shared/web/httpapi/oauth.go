package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/machine-iam/machine-iam/shared/runtime/fault"
)

// OAuth error codes of RFC 6749 §5.2, plus temporarily_unavailable (§4.1.2.1),
// which token endpoints use for an outage of their own dependencies.
const (
	CodeInvalidRequest         = "invalid_request"
	CodeInvalidClient          = "invalid_client"
	CodeUnauthorizedClient     = "unauthorized_client"
	CodeUnsupportedGrantType   = "unsupported_grant_type"
	CodeInvalidScope           = "invalid_scope"
	CodeInvalidTarget          = "invalid_target"
	CodeTemporarilyUnavailable = "temporarily_unavailable"
	CodeServerError            = "server_error"
)

// OAuthError is the error value of the token endpoint: the RFC 6749 code,
// a description safe to show, the HTTP status and any extra headers.
type OAuthError struct {
	Code        string
	Description string
	Status      int
	Header      http.Header
}

func (e *OAuthError) Error() string { return e.Code + ": " + e.Description }

// InvalidRequest is a 400 invalid_request.
func InvalidRequest(description string) *OAuthError {
	return &OAuthError{Code: CodeInvalidRequest, Description: description, Status: http.StatusBadRequest}
}

// InvalidClient is a 401 invalid_client. When the client tried HTTP Basic,
// RFC 6749 §5.2 requires the matching WWW-Authenticate challenge.
func InvalidClient(usedBasic bool, realm string) *OAuthError {
	e := &OAuthError{Code: CodeInvalidClient, Description: "Client authentication failed.", Status: http.StatusUnauthorized}
	if usedBasic {
		e.Header = http.Header{}
		e.Header.Set("WWW-Authenticate", `Basic realm="`+realm+`"`)
	}
	return e
}

type oauthDocument struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// WriteOAuthError writes err in the RFC 6749 §5.2 form. Errors that are not an
// *OAuthError become temporarily_unavailable (503) when a dependency failed
// and server_error (500) otherwise; their text is logged, never written.
func WriteOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var e *OAuthError
	if !errors.As(err, &e) {
		if errors.Is(err, fault.ErrUnavailable) {
			e = &OAuthError{Code: CodeTemporarilyUnavailable, Status: http.StatusServiceUnavailable,
				Description: "The service is temporarily unavailable; retry shortly.",
				Header:      http.Header{"Retry-After": {strconv.Itoa(RetryAfterSeconds)}}}
		} else {
			e = &OAuthError{Code: CodeServerError, Status: http.StatusInternalServerError,
				Description: "The server could not complete the request."}
		}
		if Abandoned(r) {
			logAbandoned(r, err)
			e.Status = StatusAbandoned
		} else {
			slog.ErrorContext(r.Context(), "token request failed", "status", e.Status,
				"requestId", RequestID(r.Context()), "error", err.Error())
		}
	}
	for k, v := range e.Header {
		w.Header()[k] = v
	}
	writeNoStoreJSON(w, e.Status, oauthDocument{Error: e.Code, Description: e.Description})
}

// WriteTokenJSON writes a token endpoint success body. RFC 6749 §5.1 forbids
// caching token responses.
func WriteTokenJSON(w http.ResponseWriter, v any) {
	writeNoStoreJSON(w, http.StatusOK, v)
}

func writeNoStoreJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	WriteJSON(w, status, v)
}
