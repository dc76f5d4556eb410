package wire

import "github.com/machine-iam/machine-iam/shared/iam/provenance"

// Provenance is how a client or group was made: in a create body the label
// the creator gives (createdBy is refused there: the server takes it from
// the caller's token), in a client or group the whole record. Via is "api",
// "apply", "stack" or "operator", with the document and declared name of an
// apply or the stack and logical id of a stack.
type Provenance struct {
	CreatedBy string `json:"createdBy,omitempty"`
	Via       string `json:"via,omitempty"`
	Document  string `json:"document,omitempty"`
	Name      string `json:"name,omitempty"`
	StackID   string `json:"stackId,omitempty"`
	LogicalID string `json:"logicalId,omitempty"`
}

// ProvenanceOf is r on the wire; nil for an object created before
// provenance was recorded. Both sides convert provenance (the handlers
// answer it, provisioning decides what it manages by it), so the mapping
// lives here, beside the type.
func ProvenanceOf(r provenance.Record) *Provenance {
	if r.CreatedBy == "" {
		return nil
	}
	return &Provenance{CreatedBy: r.CreatedBy, Via: r.Via, Document: r.Document, Name: r.Name, StackID: r.StackID, LogicalID: r.LogicalID}
}

// Record is p as the provenance package holds it; the zero record for nil
// (an object made before provenance was recorded).
func (p *Provenance) Record() provenance.Record {
	if p == nil {
		return provenance.Record{}
	}
	return provenance.Record{CreatedBy: p.CreatedBy, Label: provenance.Label{Via: p.Via, Document: p.Document, Name: p.Name,
		StackID: p.StackID, LogicalID: p.LogicalID}}
}
