package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// MaxBodyBytes is the largest request body the management API reads (64 KiB).
const MaxBodyBytes = 64 << 10

// DecodeJSON reads r's body into dst, strictly: the body must be one JSON
// value of at most MaxBodyBytes, with no unknown fields and no trailing data.
// Every failure is an *Error naming what was wrong.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &Error{Status: http.StatusUnsupportedMediaType, Type: TypeBlank,
				Detail: "The request body must be application/json."}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return TooLarge(MaxBodyBytes)
		}
		return BadRequest("The request body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return &Error{Status: http.StatusBadRequest, Type: TypeMalformedJSON, Detail: "A JSON request body is required."}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &Error{Status: http.StatusBadRequest, Type: TypeMalformedJSON,
			Detail: "The request body must hold exactly one JSON value."}
	}
	return nil
}

// TooLarge is the 413 problem for a body over limit bytes.
func TooLarge(limit int) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Type: TypeLimitExceeded,
		Detail: fmt.Sprintf("The request body is larger than %d bytes.", limit)}
}

func jsonError(err error) *Error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return &Error{Status: http.StatusBadRequest, Type: TypeMalformedJSON,
			Detail: fmt.Sprintf("The request body is not valid JSON (at byte %d).", syntax.Offset)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Status: http.StatusBadRequest, Type: TypeMalformedJSON, Detail: "The request body is truncated JSON."}
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return &Error{Status: http.StatusBadRequest, Type: TypeMalformedJSON, Detail: "The request body must be a JSON object."}
		}
		return Invalid(map[string][]string{field: {"must be " + jsonTypeName(typeErr.Type.Kind().String())}})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json reports unknown fields only through this message.
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Invalid(map[string][]string{name: {"is not a known field"}})
	default:
		return &Error{Status: http.StatusBadRequest, Type: TypeMalformedJSON, Detail: "The request body is not valid JSON."}
	}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	case "struct", "map", "ptr":
		return "an object"
	default:
		return "a number"
	}
}
