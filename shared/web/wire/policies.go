package wire

// Policy grants Subject Action on Scope.
type Policy struct {
	Subject   string `json:"subject"`
	Action    string `json:"action"`
	Scope     string `json:"scope"`
	Tenant    string `json:"tenant"`
	CreatedAt string `json:"createdAt"`
}

// Request is p's {subject, action, scope}, the body that creates, deletes
// or checks it.
func (p Policy) Request() PolicyRequest {
	return PolicyRequest{Subject: &p.Subject, Action: &p.Action, Scope: &p.Scope}
}

// PolicyRequest is the body of a policy's create and delete and of a
// permission check; every member is required.
type PolicyRequest struct {
	Subject *string `json:"subject"`
	Action  *string `json:"action"`
	Scope   *string `json:"scope"`
}

// PolicyList is a page of the policies listing; Cursor, when present,
// reads the next.
type PolicyList struct {
	Items  []Policy `json:"items"`
	Cursor string   `json:"cursor,omitempty"`
}

// Decision is a permission check's answer, with the policies that allow.
type Decision struct {
	Allowed   bool     `json:"allowed"`
	GrantedBy []Policy `json:"grantedBy"`
}

// Permission is one of a subject's effective permissions.
type Permission struct {
	Action    string   `json:"action"`
	Scope     string   `json:"scope"`
	GrantedBy []Policy `json:"grantedBy"`
}

// Action is an entry of the action catalog; Parent is null at the top.
type Action struct {
	Action      string  `json:"action"`
	Parent      *string `json:"parent"`
	Description string  `json:"description"`
}
