package wire

// Subject is a client, group or user as listings show it; Type is
// "Client", "Group" or "User".
type Subject struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Tenant      string `json:"tenant"`
	SubjectID   string `json:"subjectId"`
	Type        string `json:"type"`
}

// Group is a group of subjects.
type Group struct {
	ID          string `json:"id"`
	SubjectID   string `json:"subjectId"`
	DisplayName string `json:"displayName"`
	Description string `json:"description"`
	Tenant      string `json:"tenant"`
	Type        string `json:"type"`
	// Provenance is absent for groups created before it was recorded.
	Provenance *Provenance `json:"provenance,omitempty"`
	CreatedAt  string      `json:"createdAt"`
}

// GroupRequest is a group's create body. Provenance is the path the create
// comes through (an apply); absent for the API.
type GroupRequest struct {
	DisplayName *string     `json:"displayName"`
	Description *string     `json:"description"`
	Provenance  *Provenance `json:"provenance,omitempty"`
}

// MembersRequest is the body that adds or removes members.
type MembersRequest struct {
	SubjectIDs *[]string `json:"subjectIds"`
}
