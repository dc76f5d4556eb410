package httpapi

import (
	"net/url"
	"strconv"
)

// IntParam reads integer query parameter name within [lo, hi], or def when
// it is absent, recording what is wrong in errs otherwise.
func IntParam(q url.Values, name string, def, lo, hi int, errs map[string][]string) int {
	raw, ok := q[name]
	if !ok {
		return def
	}
	n, err := strconv.Atoi(raw[0])
	if err != nil || n < lo || n > hi || len(raw) > 1 {
		errs[name] = append(errs[name], "must be one integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
		return def
	}
	return n
}

// BoolParam reads query parameter name as true or false (false when
// absent), recording what is wrong in errs otherwise.
func BoolParam(q url.Values, name string, errs map[string][]string) bool {
	raw, ok := q[name]
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(raw[0])
	if err != nil || len(raw) > 1 {
		errs[name] = append(errs[name], "must be true or false")
	}
	return b
}
