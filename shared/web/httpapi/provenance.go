package httpapi

import (
	"github.com/machine-iam/machine-iam/shared/iam/provenance"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// ProvenanceLabel reads a create body's provenance into f's errors and a
// label; nil is the API's.
func ProvenanceLabel(p *wire.Provenance, f Fields) provenance.Label {
	if p == nil {
		return provenance.Label{}
	}
	if p.CreatedBy != "" {
		f.Add("provenance.createdBy", "is recorded by the server from the caller's token and cannot be given")
	}
	l := p.Record().Label
	f.Merge(l.Validate())
	return l
}
