package samtemplate

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every alarm notifies the AlarmTopicArn topic (when one is given), and the
// dashboard is valid JSON once CloudFormation has substituted it, showing
// every alarm.
func TestAlarmsAndDashboard(t *testing.T) {
	tmpl, err := Read(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	alarms := tmpl.OfType("AWS::CloudWatch::Alarm")
	if len(alarms) < 8 {
		t.Errorf("%d alarms; want at least eight", len(alarms))
	}
	for _, a := range alarms {
		props := tmpl.Resources[a].Properties
		for _, k := range []string{"AlarmActions", "OKActions"} {
			b, _ := json.Marshal(props[k])
			if !strings.Contains(string(b), `"HasAlarmTopic",[{"Ref":"AlarmTopicArn"}]`) {
				t.Errorf("%s: %s = %s; want the AlarmTopicArn topic", a, k, b)
			}
		}
		if desc, _ := props["AlarmDescription"].(string); !strings.Contains(desc, "docs/operations.md#") {
			t.Errorf("%s: its description links no runbook entry", a)
		}
	}

	dash, err := tmpl.FirstOfType("AWS::CloudWatch::Dashboard")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := asMap(tmpl.Resources[dash].Properties["DashboardBody"])["Fn::Sub"].(string)
	var shown []string
	substituted := regexp.MustCompile(`\$\{([^}]+)\}`).ReplaceAllStringFunc(body, func(m string) string {
		name := strings.TrimSuffix(m[2:len(m)-1], ".Arn")
		shown = append(shown, name)
		if name == "ConcurrencyAlarmThreshold" {
			return "800"
		}
		return "x"
	})
	var doc struct {
		Widgets []map[string]any `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(substituted), &doc); err != nil || len(doc.Widgets) == 0 {
		t.Fatalf("dashboard body: %v (%d widgets)", err, len(doc.Widgets))
	}
	for _, a := range alarms {
		if !slices.Contains(shown, a) {
			t.Errorf("the dashboard does not show %s", a)
		}
	}
}

func TestServiceAlarmsAreFound(t *testing.T) {
	tmpl, err := Read(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(tmpl.MetricAlarms("MachineIAM")); got < 6 {
		t.Errorf("%d alarms on MachineIAM metrics; want the six of docs/operations.md", got)
	}
}
