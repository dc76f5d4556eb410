// Package wire holds the JSON bodies of the management API
// (docs/openapi.yaml): clients, secrets, keys, policies, groups, subjects,
// permissions, decisions and provenance, and the listings that carry them.
// The handlers answer with these types and apiclient sends and reads them,
// so server and client cannot drift apart. Conversions to and from the
// domain live with the handlers, but for provenance's, which provisioning
// needs too. The package imports no storage, signing or handler code, so
// the provisioning function can link it.
//
// Request types that the server reads use pointers for required members,
// to tell a missing member from an empty one; optional members are
// omitempty, so a client sending them leaves out what it does not set.
package wire

// List is a listing without paging: {"items": [...]}.
type List[T any] struct {
	Items []T `json:"items"`
}

// Page is a listing by page number (envelope B of api.md).
type Page[T any] struct {
	Page       int `json:"page"`
	PageSize   int `json:"pageSize"`
	Count      int `json:"count"`
	Total      int `json:"total"`
	TotalPages int `json:"totalPages"`
	Data       []T `json:"data"`
}
