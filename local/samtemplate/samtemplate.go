// Package samtemplate reads the parts of template.yaml that the local stack
// and the tests must agree on with the cloud: each function's HTTP API
// routes and environment, the DynamoDB table and the KMS signing key. It
// understands the short intrinsic forms (!Ref, !Sub, !GetAtt, ...) and
// resolves !Ref and !Sub of parameters, pseudo parameters and named
// resources, so local resources carry the names a deployment would.
package samtemplate

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Template is a parsed SAM template.
type Template struct {
	Parameters map[string]any
	// Overrides replace parameters' defaults, as sam deploy's
	// --parameter-overrides do.
	Overrides map[string]string
	Globals   map[string]any
	// Conditions are evaluated against the parameters, for Fn::If.
	Conditions map[string]any
	Resources  map[string]Resource
	// Pseudo holds the values of AWS pseudo parameters used to resolve
	// names (AWS::StackName, AWS::Region, ...).
	Pseudo map[string]string
	// Physical holds what !Ref of a resource gives, for resources with no
	// local stand-in (a Secrets Manager secret's ARN, say).
	Physical map[string]string
	// Imports holds the values of other stacks' exports, by name.
	Imports map[string]string
}

// Resource is one entry of Resources.
type Resource struct {
	Type       string
	Properties map[string]any
	Metadata   map[string]any
	// DeletionPolicy and UpdateReplacePolicy, empty when not set.
	DeletionPolicy, UpdateReplacePolicy string
}

// Route is one HTTP API event of a function.
type Route struct {
	Method string // upper case; ANY matches every method
	Path   string // API Gateway syntax: /v1/clients/{clientId}
	// JWT is the route's JWT authorizer, nil for none.
	JWT *JWTAuthorizer
	// Lambda is the route's Lambda REQUEST authorizer, nil for none.
	Lambda *LambdaAuthorizer
}

// LambdaAuthorizer is an HTTP API Lambda authorizer (SAM's
// LambdaAuthorizer): the function that decides, the payload and response
// formats, the identity sources (the cache key, and what a request must
// carry) and how long a result is cached (Identity.ReauthorizeEvery, the
// authorizer's AuthorizerResultTtlInSeconds).
type LambdaAuthorizer struct {
	Name string
	// Function is the logical id of the authorizer function
	// (FunctionArn: !GetAtt <Function>.Arn); "" when it cannot be resolved.
	Function        string
	PayloadVersion  string
	SimpleResponses bool
	// IdentitySources are mapping expressions: $request.header.Name,
	// $request.querystring.name, $context.name, $stageVariables.name.
	IdentitySources []string
	TTLSeconds      int
}

// JWTAuthorizer is an HTTP API JWT authorizer as a route uses it: the
// issuer and audiences it trusts (JwtConfiguration) and the route's
// AuthorizationScopes.
type JWTAuthorizer struct {
	Name      string
	Issuer    string
	Audiences []string
	Scopes    []string
}

// Read parses the template at path.
func Read(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse parses a template document.
func Parse(doc []byte) (*Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	if len(root.Content) != 1 {
		return nil, fmt.Errorf("samtemplate: empty document")
	}
	top, ok := convert(root.Content[0]).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("samtemplate: the document is not a mapping")
	}
	t := &Template{
		Parameters: asMap(top["Parameters"]),
		Globals:    asMap(top["Globals"]),
		Conditions: asMap(top["Conditions"]),
		Resources:  map[string]Resource{},
		Pseudo: map[string]string{
			"AWS::StackName": "machine-iam", "AWS::Region": "us-east-1", "AWS::AccountId": "111122223333",
			"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
		},
	}
	for name, v := range asMap(top["Resources"]) {
		m := asMap(v)
		typ, _ := m["Type"].(string)
		deletion, _ := m["DeletionPolicy"].(string)
		replace, _ := m["UpdateReplacePolicy"].(string)
		t.Resources[name] = Resource{Type: typ, Properties: asMap(m["Properties"]), Metadata: asMap(m["Metadata"]),
			DeletionPolicy: deletion, UpdateReplacePolicy: replace}
	}
	return t, nil
}

// convert turns a YAML node into plain Go values, rewriting the short form
// of each intrinsic function (!Ref x) into its long form ({"Ref": x}).
func convert(n *yaml.Node) any {
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = convert(n.Content[i+1])
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = convert(c)
		}
		v = s
	case yaml.AliasNode:
		return convert(n.Alias)
	default:
		v = n.Value
	}
	if tag := n.Tag; strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!") {
		name := strings.TrimPrefix(tag, "!")
		switch name {
		case "Ref":
			return map[string]any{"Ref": v}
		case "GetAtt":
			if s, ok := v.(string); ok {
				parts := strings.SplitN(s, ".", 2)
				return map[string]any{"Fn::GetAtt": []any{parts[0], parts[len(parts)-1]}}
			}
			return map[string]any{"Fn::GetAtt": v}
		default:
			return map[string]any{"Fn::" + name: v}
		}
	}
	return v
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return m
}

// APIFunctions returns the logical ids of the AWS::Serverless::Function
// resources that serve HTTP API routes, sorted. (The provisioning function
// answers CloudFormation instead.)
func (t *Template) APIFunctions() []string {
	var names []string
	for name, r := range t.Resources {
		if r.Type == "AWS::Serverless::Function" && len(t.Routes(name)) > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Routes returns the HttpApi events of function fn.
func (t *Template) Routes(fn string) []Route {
	var routes []Route
	for _, ev := range asMap(t.Resources[fn].Properties["Events"]) {
		e := asMap(ev)
		if e["Type"] != "HttpApi" {
			continue
		}
		p := asMap(e["Properties"])
		method, _ := p["Method"].(string)
		path, _ := p["Path"].(string)
		routes = append(routes, Route{Method: strings.ToUpper(method), Path: path, JWT: t.jwtAuthorizer(p), Lambda: t.lambdaAuthorizer(p)})
	}
	slices.SortFunc(routes, func(a, b Route) int { return strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method) })
	return routes
}

// Environment returns fn's environment variables, Globals merged under the
// function's own, with every value resolved.
func (t *Template) Environment(fn string) (map[string]string, error) {
	env := map[string]string{}
	layers := []any{
		asMap(asMap(asMap(t.Globals["Function"])["Environment"])["Variables"]),
		asMap(asMap(t.Resources[fn].Properties["Environment"])["Variables"]),
	}
	for _, layer := range layers {
		for k, v := range asMap(layer) {
			s, err := t.Resolve(v)
			if err != nil {
				return nil, fmt.Errorf("samtemplate: %s: %s: %w", fn, k, err)
			}
			env[k] = s
		}
	}
	return env, nil
}

// OfType returns the logical ids of the resources of type typ, sorted.
func (t *Template) OfType(typ string) []string {
	var found []string
	for name, r := range t.Resources {
		if r.Type == typ {
			found = append(found, name)
		}
	}
	slices.Sort(found)
	return found
}

// FirstOfType returns the logical id of the only resource of type typ.
func (t *Template) FirstOfType(typ string) (string, error) {
	found := t.OfType(typ)
	if len(found) != 1 {
		return "", fmt.Errorf("samtemplate: want exactly one %s, found %d", typ, len(found))
	}
	return found[0], nil
}

var subVariable = regexp.MustCompile(`\$\{([^}!]+)\}`)

// Resolve evaluates v to a string: literals, !Ref of a parameter (its
// default), a pseudo parameter or a resource with a name property, and !Sub
// and !Join over those.
func (t *Template) Resolve(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int, float64, bool:
		return fmt.Sprint(x), nil
	case map[string]any:
		if ref, ok := x["Ref"].(string); ok {
			return t.ref(ref)
		}
		if branches, ok := x["Fn::If"].([]any); ok && len(branches) == 3 {
			name, _ := branches[0].(string)
			holds, err := t.Condition(name)
			if err != nil {
				return "", err
			}
			if holds {
				return t.Resolve(branches[1])
			}
			return t.Resolve(branches[2])
		}
		if join, ok := x["Fn::Join"].([]any); ok && len(join) == 2 {
			sep, _ := join[0].(string)
			parts, _ := join[1].([]any)
			out := make([]string, len(parts))
			for i, p := range parts {
				s, err := t.Resolve(p)
				if err != nil {
					return "", err
				}
				out[i] = s
			}
			return strings.Join(out, sep), nil
		}
		if name, ok := x["Fn::ImportValue"]; ok {
			n, err := t.Resolve(name)
			if err != nil {
				return "", err
			}
			if v, ok := t.Imports[n]; ok {
				return v, nil
			}
			return "", fmt.Errorf("no export named %q", n)
		}
		if sub, ok := x["Fn::Sub"].(string); ok {
			var firstErr error
			out := subVariable.ReplaceAllStringFunc(sub, func(m string) string {
				s, err := t.ref(m[2 : len(m)-1])
				if err != nil && firstErr == nil {
					firstErr = err
				}
				return s
			})
			return out, firstErr
		}
	}
	return "", fmt.Errorf("cannot resolve %v locally", v)
}

// Condition evaluates the named condition with the parameters' values.
func (t *Template) Condition(name string) (bool, error) {
	c, ok := t.Conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition named %q", name)
	}
	return t.holds(c)
}

// holds evaluates a condition expression: Fn::Equals, Fn::Not, Fn::And,
// Fn::Or and a named Condition.
func (t *Template) holds(c any) (bool, error) {
	m := asMap(c)
	if name, ok := m["Condition"].(string); ok {
		return t.Condition(name)
	}
	if eq, ok := m["Fn::Equals"].([]any); ok && len(eq) == 2 {
		a, err := t.Resolve(eq[0])
		if err != nil {
			return false, err
		}
		b, err := t.Resolve(eq[1])
		return a == b, err
	}
	args, _ := m["Fn::Not"].([]any)
	if len(args) == 1 {
		v, err := t.holds(args[0])
		return !v, err
	}
	for op, want := range map[string]bool{"Fn::And": false, "Fn::Or": true} {
		args, ok := m[op].([]any)
		if !ok {
			continue
		}
		for _, a := range args {
			v, err := t.holds(a)
			if err != nil || v == want {
				return want, err
			}
		}
		return !want, nil
	}
	return false, fmt.Errorf("cannot evaluate condition %v locally", c)
}

// ResolveProperties evaluates a resource's properties as CloudFormation
// sends them to a custom resource: intrinsic functions resolved, and every
// scalar a string.
func (t *Template) ResolveProperties(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := t.ResolveProperties(e)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		for k := range x {
			if k == "Ref" || strings.HasPrefix(k, "Fn::") {
				return t.Resolve(x)
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := t.ResolveProperties(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
		return out, nil
	}
	return t.Resolve(v)
}

func (t *Template) ref(name string) (string, error) {
	if v, ok := t.Pseudo[name]; ok {
		return v, nil
	}
	if p, ok := t.Parameters[name]; ok {
		if v, ok := t.Overrides[name]; ok {
			return v, nil
		}
		return t.Resolve(asMap(p)["Default"])
	}
	if v, ok := t.Physical[name]; ok {
		return v, nil
	}
	if r, ok := t.Resources[name]; ok {
		switch r.Type {
		case "AWS::DynamoDB::Table":
			return t.Resolve(r.Properties["TableName"])
		case "AWS::KMS::Alias":
			return t.Resolve(r.Properties["AliasName"])
		case "AWS::SecretsManager::Secret":
			return t.Resolve(r.Properties["Name"])
		}
		return "", fmt.Errorf("!Ref %s (%s) has no local value", name, r.Type)
	}
	return "", fmt.Errorf("!Ref %s: no such parameter or resource", name)
}

// authorizer finds the authorizer of an HttpApi event: the event's
// Auth.Authorizer, or its API's Auth.DefaultAuthorizer, looked up in the
// API's Auth.Authorizers; NONE means none.
func (t *Template) authorizer(event map[string]any) (name string, def map[string]any) {
	ref, _ := asMap(event["ApiId"])["Ref"].(string)
	apiAuth := asMap(t.Resources[ref].Properties["Auth"])
	name, _ = asMap(event["Auth"])["Authorizer"].(string)
	if name == "" {
		name, _ = apiAuth["DefaultAuthorizer"].(string)
	}
	if name == "" || name == "NONE" {
		return "", nil
	}
	return name, asMap(asMap(apiAuth["Authorizers"])[name])
}

// lambdaAuthorizer reads the event's authorizer when it is a Lambda
// authorizer (it has a FunctionArn). Defaults are SAM's: the Authorization
// header as identity source, results cached for 300 seconds.
func (t *Template) lambdaAuthorizer(event map[string]any) *LambdaAuthorizer {
	name, def := t.authorizer(event)
	if _, ok := def["FunctionArn"]; !ok {
		return nil
	}
	a := &LambdaAuthorizer{Name: name, TTLSeconds: 300}
	if att, ok := asMap(def["FunctionArn"])["Fn::GetAtt"].([]any); ok && len(att) == 2 && att[1] == "Arn" {
		a.Function, _ = att[0].(string)
	}
	a.PayloadVersion, _ = t.Resolve(def["AuthorizerPayloadFormatVersion"])
	simple, _ := t.Resolve(def["EnableSimpleResponses"])
	a.SimpleResponses = strings.EqualFold(simple, "true")
	identity, ok := def["Identity"]
	if !ok {
		a.IdentitySources = []string{"$request.header.Authorization"}
		return a
	}
	id := asMap(identity)
	for _, src := range []struct{ key, prefix string }{
		{"Headers", "$request.header."}, {"QueryStrings", "$request.querystring."}, {"Context", "$context."}, {"StageVariables", "$stageVariables."},
	} {
		for _, v := range asList(id[src.key]) {
			if s, err := t.Resolve(v); err == nil {
				a.IdentitySources = append(a.IdentitySources, src.prefix+s)
			}
		}
	}
	if v, ok := id["ReauthorizeEvery"]; ok {
		s, _ := t.Resolve(v)
		// An unreadable value caches nothing rather than something.
		if _, err := fmt.Sscanf(s, "%d", &a.TTLSeconds); err != nil || a.TTLSeconds < 0 {
			a.TTLSeconds = 0
		}
	}
	return a
}

// jwtAuthorizer reads the event's authorizer when it is a JWT authorizer.
// One that cannot be resolved locally fails closed: an issuer no token can
// have.
func (t *Template) jwtAuthorizer(event map[string]any) *JWTAuthorizer {
	name, def := t.authorizer(event)
	if name == "" {
		return nil
	}
	if _, ok := def["FunctionArn"]; ok {
		return nil
	}
	auth := asMap(event["Auth"])
	cfg := asMap(def["JwtConfiguration"])
	issuer, err := t.Resolve(cfg["issuer"])
	if err != nil || issuer == "" {
		return &JWTAuthorizer{Name: name, Issuer: "unresolvable:" + name}
	}
	a := &JWTAuthorizer{Name: name, Issuer: issuer}
	auds, ok := cfg["audience"].([]any)
	if !ok {
		auds = []any{cfg["audience"]}
	}
	for _, v := range auds {
		if aud, err := t.Resolve(v); err == nil {
			a.Audiences = append(a.Audiences, aud)
		}
	}
	for _, v := range asList(auth["AuthorizationScopes"]) {
		if sc, ok := v.(string); ok {
			a.Scopes = append(a.Scopes, sc)
		}
	}
	return a
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// MetricAlarm is an alarm on one metric: its logical id, the metric's name
// and its dimensions.
type MetricAlarm struct {
	Name, Metric string
	Dimensions   map[string]string
}

// MetricAlarms returns the alarms that watch one metric of namespace, so a
// test can check that the code emits what each watches.
func (t *Template) MetricAlarms(namespace string) []MetricAlarm {
	var out []MetricAlarm
	for _, a := range t.OfType("AWS::CloudWatch::Alarm") {
		props := t.Resources[a].Properties
		if props["Namespace"] != namespace {
			continue
		}
		dims := map[string]string{}
		for _, d := range asList(props["Dimensions"]) {
			name, _ := asMap(d)["Name"].(string)
			value, _ := asMap(d)["Value"].(string)
			dims[name] = value
		}
		metric, _ := props["MetricName"].(string)
		out = append(out, MetricAlarm{Name: a, Metric: metric, Dimensions: dims})
	}
	return out
}
