package httpapi

import "github.com/machine-iam/machine-iam/shared/iam/provenance"

// Provenance is a provenance record on the wire: in a create body the
// label the creator gives (createdBy is refused there: the server takes it
// from the caller's token), in a client or group the whole record.
type Provenance struct {
	CreatedBy string `json:"createdBy,omitempty"`
	Via       string `json:"via,omitempty"`
	Document  string `json:"document,omitempty"`
	Name      string `json:"name,omitempty"`
	StackID   string `json:"stackId,omitempty"`
	LogicalID string `json:"logicalId,omitempty"`
}

// ProvenanceOf is r on the wire; nil for an object created before
// provenance was recorded.
func ProvenanceOf(r provenance.Record) *Provenance {
	if r.CreatedBy == "" {
		return nil
	}
	return &Provenance{CreatedBy: r.CreatedBy, Via: r.Via, Document: r.Document, Name: r.Name, StackID: r.StackID, LogicalID: r.LogicalID}
}

// Label reads a create body's provenance into f's errors and a label; nil
// is the API's.
func (p *Provenance) Label(f Fields) provenance.Label {
	if p == nil {
		return provenance.Label{}
	}
	if p.CreatedBy != "" {
		f.Add("provenance.createdBy", "is recorded by the server from the caller's token and cannot be given")
	}
	l := provenance.Label{Via: p.Via, Document: p.Document, Name: p.Name, StackID: p.StackID, LogicalID: p.LogicalID}
	f.Merge(l.Validate())
	return l
}
