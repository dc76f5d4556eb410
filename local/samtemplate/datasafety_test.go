package samtemplate

import (
	"path/filepath"
	"strconv"
	"testing"
)

// The data-safety settings docs/operations.md promises, kept by test: the
// table and the signing key outlive a stack deletion and a replacement,
// the table is restorable for 35 days and protected from deletion by
// default, the key cannot be deleted in less than 30 days, and every log
// group has a retention, the audit lines their own.
func TestDataSafety(t *testing.T) {
	tmpl, err := Read(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	retained := func(name string) {
		r := tmpl.Resources[name]
		if r.DeletionPolicy != "Retain" || r.UpdateReplacePolicy != "Retain" {
			t.Errorf("%s: DeletionPolicy %q, UpdateReplacePolicy %q; want Retain for both", name, r.DeletionPolicy, r.UpdateReplacePolicy)
		}
	}
	table, err := tmpl.FirstOfType("AWS::DynamoDB::Table")
	if err != nil {
		t.Fatal(err)
	}
	retained(table)
	props := tmpl.Resources[table].Properties
	pitr := asMap(props["PointInTimeRecoverySpecification"])
	if pitr["PointInTimeRecoveryEnabled"] != "true" || pitr["RecoveryPeriodInDays"] != "35" {
		t.Errorf("table point-in-time recovery = %v; want enabled for 35 days", pitr)
	}
	if p, err := tmpl.Resolve(props["DeletionProtectionEnabled"]); err != nil || p != "true" {
		t.Errorf("table deletion protection by default = %q, %v", p, err)
	}
	if asMap(props["SSESpecification"])["SSEEnabled"] != "true" {
		t.Error("table encryption not stated")
	}

	keys := tmpl.OfType("AWS::KMS::Key")
	if len(keys) == 0 {
		t.Fatal("no signing key")
	}
	for _, k := range keys {
		retained(k)
		if w := tmpl.Resources[k].Properties["PendingWindowInDays"]; w != "30" {
			t.Errorf("%s: PendingWindowInDays = %v; want 30, the longest", k, w)
		}
	}

	// Every function logs to a log group of the template's, so none falls
	// back to an implicit group kept forever.
	audit := map[string]bool{}
	for _, fn := range tmpl.OfType("AWS::Serverless::Function") {
		lg := asMap(asMap(tmpl.Resources[fn].Properties["LoggingConfig"])["LogGroup"])["Ref"]
		name, _ := lg.(string)
		if tmpl.Resources[name].Type != "AWS::Logs::LogGroup" {
			t.Errorf("%s logs to %v, not a log group of the template", fn, lg)
		}
		if fn != "ProvisioningFunction" {
			audit[name] = true
		}
	}
	for _, lg := range tmpl.OfType("AWS::Logs::LogGroup") {
		ref := asMap(tmpl.Resources[lg].Properties["RetentionInDays"])["Ref"]
		want := "LogRetentionDays"
		if audit[lg] {
			// The audit lines: their own retention, kept past the stack.
			want = "AuditLogRetentionDays"
			retained(lg)
		}
		if ref != want {
			t.Errorf("%s: RetentionInDays = %v; want !Ref %s", lg, ref, want)
		}
	}
	if len(audit) != 4 {
		t.Errorf("audit log groups = %v; want the four API functions'", audit)
	}
	if d, _ := strconv.Atoi(asMap(tmpl.Parameters["AuditLogRetentionDays"])["Default"].(string)); d < 365 {
		t.Errorf("AuditLogRetentionDays default = %d; want at least a year", d)
	}
}
