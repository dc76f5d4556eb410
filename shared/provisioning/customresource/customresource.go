// Package customresource implements the CloudFormation custom resource
// Custom::MachineIamClient: a client declared in any stack, with its scopes,
// audiences, policies, group memberships and credentials (public keys, or a
// Secrets Manager secret whose value becomes the client secret).
//
// The provisioning function acts in each tenant as a client of that tenant,
// over the HTTP API, so it can confer only what that client holds: the same
// no-escalation checks as any other caller. It never returns a secret
// through CloudFormation. Create, Update and Delete are idempotent, the
// PhysicalResourceId is the client id, and every event is answered, on
// failure and before the function's deadline too, so no stack hangs.
package customresource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/machine-iam/machine-iam/shared/iam/provenance"
	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/oauth/tenant"
	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
	"github.com/machine-iam/machine-iam/shared/provisioning/provision"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// ResourceType is the type stacks declare.
const ResourceType = "Custom::MachineIamClient"

// SecretValues reads secrets. Secrets Manager implements it in the function;
// it is the one AWS call here, kept behind this interface because Secrets
// Manager has no local stand-in.
type SecretValues interface {
	SecretValue(ctx context.Context, arn string) (string, error)
}

// Handler answers custom-resource events.
type Handler struct {
	// Connect returns an API client acting in tenant as its provisioner.
	Connect func(ctx context.Context, tenant string) (provision.API, error)
	// Secrets reads the SecretArn a resource names.
	Secrets SecretValues
	// ProvisionerSecretArn is the secret Connect reads; no resource may
	// name it as its SecretArn.
	ProvisionerSecretArn string
	// Stacks confirms each event with CloudFormation before acting on it.
	Stacks Stacks
	// ResponseURLAllowed reports whether an event's ResponseURL is one
	// CloudFormation gives; nil means CloudFormation's response buckets.
	ResponseURLAllowed func(string) bool
	// BaseURL is the service's base URL, for the token endpoint in the
	// resource's attributes.
	BaseURL string
	// HTTP sends the answers to CloudFormation's response URL.
	HTTP *http.Client
	Log  *slog.Logger
	// Margin is how long before the function's deadline the work stops, so
	// that a FAILED answer still goes out (default 10 s).
	Margin time.Duration
}

// Stacks reads what CloudFormation records of a stack's resource. Anyone
// allowed to invoke the function could send it events of their own making;
// an event is acted on only when the stack it names is working on that
// resource right now, as the event says.
type Stacks interface {
	StackResource(ctx context.Context, stackID, logicalID string) (StackResource, error)
}

// StackResource is a resource as CloudFormation describes it.
type StackResource struct {
	Type, Status, PhysicalID string
}

// responseBucket matches the host of CloudFormation's pre-signed response
// URLs (cloudformation-custom-resource-response-<region>.s3[.<region>].amazonaws.com).
var responseBucket = regexp.MustCompile(`^cloudformation-custom-resource-response-[a-z0-9-]+\.s3([.-][a-z0-9-]+)?\.amazonaws\.com(\.cn)?$`)

// CloudFormationResponseURL reports whether u is a CloudFormation response
// URL: https, to a response bucket.
func CloudFormationResponseURL(u string) bool {
	parsed, err := url.Parse(u)
	return err == nil && parsed.Scheme == "https" && responseBucket.MatchString(parsed.Host)
}

// responseHost is the host of a response URL, for logs: the rest of a
// pre-signed URL is a credential.
func responseHost(u string) string {
	if parsed, err := url.Parse(u); err == nil {
		return parsed.Host
	}
	return "(unparsable)"
}

// confirm checks ev against what CloudFormation records: the resource
// exists in the stack with this type, is being created, updated or deleted
// as the event says, and (for an update) has the event's physical id.
func (h *Handler) confirm(ctx context.Context, ev cfn.Event) error {
	if h.Stacks == nil {
		return errors.New("no way to confirm events with CloudFormation")
	}
	res, err := h.Stacks.StackResource(ctx, ev.StackID, ev.LogicalResourceID)
	if err != nil {
		return fmt.Errorf("confirming the event with CloudFormation: %w", err)
	}
	want := map[cfn.RequestType]string{cfn.RequestCreate: "CREATE_IN_PROGRESS", cfn.RequestUpdate: "UPDATE_IN_PROGRESS",
		cfn.RequestDelete: "DELETE_IN_PROGRESS"}[ev.RequestType]
	switch {
	case res.Type != ResourceType:
		return fmt.Errorf("the stack's %s is a %s", ev.LogicalResourceID, res.Type)
	case ev.RequestType == cfn.RequestDelete && res.PhysicalID != ev.PhysicalResourceID:
		// The cleanup of a resource an update replaced: the stack has
		// moved on to another client, and this one must go.
		return nil
	case res.Status != want:
		return fmt.Errorf("the stack's %s is %s, not %s", ev.LogicalResourceID, res.Status, want)
	case ev.RequestType != cfn.RequestCreate && res.PhysicalID != ev.PhysicalResourceID:
		return fmt.Errorf("the stack's %s is %s, not %s", ev.LogicalResourceID, res.PhysicalID, ev.PhysicalResourceID)
	}
	return nil
}

// maxReason keeps the answer under CloudFormation's 4 KiB response limit.
const maxReason = 1000

// Handle works on ev and answers it. It returns an error only when the
// answer could not be delivered, so that Lambda retries the event; the
// work is idempotent.
func (h *Handler) Handle(ctx context.Context, ev cfn.Event) error {
	allowed := h.ResponseURLAllowed
	if allowed == nil {
		allowed = CloudFormationResponseURL
	}
	if !allowed(ev.ResponseURL) {
		// Not CloudFormation's: nothing is done, and nothing is sent there.
		// An error, so that a stack left waiting can be traced here; only
		// the URL's host is logged, never its pre-signed query.
		h.logger().Error("custom resource event dropped: its response URL is not CloudFormation's",
			"responseHost", responseHost(ev.ResponseURL), "requestType", ev.RequestType,
			"stackId", ev.StackID, "resource", ev.LogicalResourceID)
		return nil
	}
	resp := cfn.NewResponse(&ev)
	workCtx, cancel := h.workContext(ctx)
	defer cancel()
	id, data, err := h.safely(workCtx, ev)
	resp.PhysicalResourceID, resp.Data = id, data
	if resp.PhysicalResourceID == "" {
		// Nothing was made: an id no client has, which Delete accepts.
		resp.PhysicalResourceID = noClient + ev.RequestID
	}
	resp.Status = cfn.StatusSuccess
	if err != nil {
		if errors.Is(workCtx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("stopped before the function's timeout: %w", err)
		}
		resp.Status, resp.Reason = cfn.StatusFailed, truncate(err.Error(), maxReason)
	}
	h.logger().Info("custom resource", "requestType", ev.RequestType, "stackId", ev.StackID,
		"resource", ev.LogicalResourceID, "clientId", resp.PhysicalResourceID, "status", resp.Status, "reason", resp.Reason)
	return h.send(ctx, ev.ResponseURL, resp)
}

// noClient prefixes the PhysicalResourceId of a resource whose Create
// failed before making a client.
const noClient = "none-"

func (h *Handler) workContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	margin := h.Margin
	if margin == 0 {
		margin = 10 * time.Second
	}
	return context.WithDeadline(ctx, deadline.Add(-margin))
}

// safely turns a panic into a FAILED answer.
func (h *Handler) safely(ctx context.Context, ev cfn.Event) (id string, data map[string]any, err error) {
	defer func() {
		if p := recover(); p != nil {
			h.logger().Error("panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			id, data, err = ev.PhysicalResourceID, nil, errors.New("internal error; the provisioning function's log has the details")
		}
	}()
	return h.handle(ctx, ev)
}

func (h *Handler) logger() *slog.Logger {
	if h.Log == nil {
		return slog.Default()
	}
	return h.Log
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// send PUTs the answer to the pre-signed URL, retrying briefly.
func (h *Handler) send(ctx context.Context, responseURL string, resp *cfn.Response) error {
	body, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	hc := h.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	for attempt := 0; ; attempt++ {
		// Three attempts of at most 3 s fit in the 10 s margin.
		attemptCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		req, err := http.NewRequestWithContext(attemptCtx, http.MethodPut, responseURL, bytes.NewReader(body))
		if err != nil {
			cancel()
			return err
		}
		// The pre-signed S3 URL is signed for no content type.
		req.Header["Content-Type"] = nil
		res, err := hc.Do(req)
		cancel()
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("response URL answered %d", res.StatusCode)
		}
		if attempt == 2 {
			return fmt.Errorf("answering CloudFormation: %w", err)
		}
		time.Sleep(time.Duration(attempt+1) * 300 * time.Millisecond)
	}
}

func (h *Handler) handle(ctx context.Context, ev cfn.Event) (string, map[string]any, error) {
	if ev.RequestType == cfn.RequestDelete && (ev.ResourceType != ResourceType || strings.HasPrefix(ev.PhysicalResourceID, noClient)) {
		// Nothing of ours to delete: a create that failed, or a resource
		// declared with another type. Succeeding lets the stack roll back.
		return ev.PhysicalResourceID, nil, nil
	}
	if ev.ResourceType != ResourceType {
		return ev.PhysicalResourceID, nil, fmt.Errorf("this function provisions %s, not %s", ResourceType, ev.ResourceType)
	}
	if err := h.confirm(ctx, ev); err != nil {
		return ev.PhysicalResourceID, nil, err
	}
	if ev.RequestType == cfn.RequestDelete {
		return ev.PhysicalResourceID, nil, h.delete(ctx, ev)
	}
	props, err := parseProperties(ev.ResourceProperties)
	if err != nil {
		return ev.PhysicalResourceID, nil, err
	}
	switch ev.RequestType {
	case cfn.RequestCreate:
		return h.create(ctx, ev, props)
	case cfn.RequestUpdate:
		old, _ := parseProperties(ev.OldResourceProperties)
		if old.Tenant != props.Tenant || strings.HasPrefix(ev.PhysicalResourceID, noClient) {
			// A client cannot move between tenants: replace it; CloudFormation
			// deletes the old one when the stack update completes.
			return h.create(ctx, ev, props)
		}
		return h.update(ctx, ev, props)
	}
	return ev.PhysicalResourceID, nil, fmt.Errorf("unknown request type %q", ev.RequestType)
}

// ours reports whether c is the client this resource made: the server
// recorded, at its creation, that the provisioner (api's subject) created it
// for this stack's resource. A name or description proves nothing: any
// client allowed to rename or describe another could write them.
func ours(c apiclient.ClientRecord, api provision.API, ev cfn.Event) bool {
	return c.Provenance.Record().Stacked(api.Subject(), ev.StackID, ev.LogicalResourceID)
}

// via is the provenance of the clients this resource creates.
func via(ev cfn.Event) *wire.Provenance {
	return &wire.Provenance{Via: provenance.ViaStack, StackID: ev.StackID, LogicalID: ev.LogicalResourceID}
}

func (h *Handler) create(ctx context.Context, ev cfn.Event, props Properties) (string, map[string]any, error) {
	api, err := h.Connect(ctx, props.Tenant)
	if err != nil {
		return "", nil, err
	}
	// A create Lambda retried after a crash finds the client it made.
	var have *apiclient.ClientRecord
	found, err := api.ListClients(ctx, props.Name)
	if err != nil {
		return "", nil, err
	}
	for i := range found {
		if ours(found[i], api, ev) && found[i].Name == props.Name {
			have = &found[i]
			break
		}
	}
	id, data, err := h.reconcile(ctx, api, ev, props, have)
	if err != nil && have == nil && id != "" {
		// Leave nothing behind a failed create; if this fails too, the
		// rollback's Delete of id removes it.
		if derr := api.DeleteClient(ctx, id); derr == nil {
			id = ""
		}
	}
	return id, data, err
}

func (h *Handler) update(ctx context.Context, ev cfn.Event, props Properties) (string, map[string]any, error) {
	api, err := h.Connect(ctx, props.Tenant)
	if err != nil {
		return ev.PhysicalResourceID, nil, err
	}
	have, err := api.GetClient(ctx, ev.PhysicalResourceID)
	if err != nil {
		return ev.PhysicalResourceID, nil, fmt.Errorf("client %s: %w", ev.PhysicalResourceID, err)
	}
	if !ours(have, api, ev) {
		// A client this resource did not make (one made before provenance
		// was recorded, say) is never changed: a new one replaces it, and
		// the Delete CloudFormation then sends for the old id leaves it.
		h.logger().Warn("replacing a client this resource did not create", "clientId", have.ClientID)
		return h.reconcile(ctx, api, ev, props, nil)
	}
	return h.reconcile(ctx, api, ev, props, &have)
}

// reconcile makes the client match props, then its managed secret.
func (h *Handler) reconcile(ctx context.Context, api provision.API, ev cfn.Event, props Properties, have *apiclient.ClientRecord) (string, map[string]any, error) {
	want := props.client()
	if err := want.Normalize(); err != nil {
		return idOf(have), nil, err
	}
	// The secret is read first: a wrong ARN fails before anything is made.
	var value string
	if props.SecretArn != "" {
		if h.ProvisionerSecretArn != "" && sameSecret(props.SecretArn, h.ProvisionerSecretArn) {
			return idOf(have), nil, errors.New("SecretArn names the provisioner's own secret")
		}
		v, err := h.Secrets.SecretValue(ctx, props.SecretArn)
		if err != nil {
			return idOf(have), nil, fmt.Errorf("reading SecretArn: %w", err)
		}
		if v == "" {
			return idOf(have), nil, errors.New("SecretArn holds no string value (empty, or binary)")
		}
		value = v
	}
	plan, err := provision.PlanClient(ctx, api, want, have, via(ev))
	if err != nil {
		return idOf(have), nil, err
	}
	err = plan.Apply(ctx, api, nil)
	id := plan.ClientID(want.Name)
	if err != nil {
		return id, nil, err
	}
	if err := syncSecret(ctx, api, id, value, props.SecretArn); err != nil {
		return id, nil, err
	}
	iss := tenant.Issuer(h.BaseURL, props.Tenant)
	return id, map[string]any{
		"ClientId": id, "SubjectId": subject.ID(subject.Client, id), "Tenant": props.Tenant,
		"Issuer": iss, "TokenEndpoint": tenant.TokenEndpoint(iss),
	}, nil
}

// sameSecret reports whether two ARNs, complete or partial (without the six
// random characters Secrets Manager appends to a name), may name one secret.
func sameSecret(a, b string) bool {
	a, b = secretName(a), secretName(b)
	return a == b || withoutSuffix(a) == b || a == withoutSuffix(b)
}

func secretName(arn string) string {
	_, name, _ := strings.Cut(arn, ":secret:")
	return name
}

func withoutSuffix(name string) string {
	if i := strings.LastIndexByte(name, '-'); i >= 0 && len(name)-i == 7 {
		return name[:i]
	}
	return name
}

func idOf(c *apiclient.ClientRecord) string {
	if c == nil {
		return ""
	}
	return c.ClientID
}

// managedSecret starts the description of the secret this resource sets.
const managedSecret = "From Secrets Manager "

// syncSecret makes value (from arn) the client's only secret, or leaves it
// none when value is empty: the resource owns the client's credentials, so
// a secret added by any other means is removed. The new secret is added
// before the old ones go, so tokens keep being issued throughout.
func syncSecret(ctx context.Context, api provision.API, clientID, value, arn string) error {
	secrets, err := api.ListSecrets(ctx, clientID)
	if err != nil {
		return err
	}
	if value != "" {
		if _, err := api.CreateSecret(ctx, clientID, value, truncate(managedSecret+arn, 200), nil); err != nil {
			return fmt.Errorf("setting the secret from SecretArn: %w", err)
		}
	}
	for _, s := range secrets {
		if err := api.DeleteSecret(ctx, clientID, s.ID); err != nil && !apiclient.IsNotFound(err) {
			return err
		}
	}
	return nil
}

func (h *Handler) delete(ctx context.Context, ev cfn.Event) error {
	props, err := parseProperties(ev.ResourceProperties)
	if err != nil {
		// Properties a create refused: no client was made from them.
		return nil
	}
	api, err := h.Connect(ctx, props.Tenant)
	if err != nil {
		return err
	}
	have, err := api.GetClient(ctx, ev.PhysicalResourceID)
	if apiclient.IsNotFound(err) || apiclient.StatusOf(err) == http.StatusBadRequest {
		return nil
	}
	if err != nil {
		return err
	}
	if !ours(have, api, ev) {
		h.logger().Warn("not deleting a client this resource did not create", "clientId", have.ClientID)
		return nil
	}
	if err := api.DeleteClient(ctx, have.ClientID); err != nil && !apiclient.IsNotFound(err) {
		return err
	}
	return nil
}

// Properties are the resource's properties. CloudFormation passes scalars
// as strings.
type Properties struct {
	Tenant              string
	Name                string
	Description         string
	Scopes              []string
	Audiences           []string
	AccessTokenLifetime int
	TokenClaims         map[string]string
	Policies            []provision.Grant
	Groups              []string
	PublicKeys          []provision.PublicKey
	// FederatedCredentials are the client's federated credentials
	// ([{Type, Issuer, Subject, Audience, Claims, Jwks, Principal, RoleId, Description}]).
	FederatedCredentials []provision.FederatedCredential
	SecretArn            string
}

// maxDescription is the API's (client.MaxDescriptionLength; the client
// package is not linked here: it would bring token signing along).
const maxDescription = 1000

func parseProperties(raw map[string]any) (Properties, error) {
	var p Properties
	// ServiceTimeout is CloudFormation's own, sent when a stack sets it.
	known := []string{"ServiceToken", "ServiceTimeout", "Tenant", "Name", "Description", "Scopes", "Audiences", "AccessTokenLifetime",
		"TokenClaims", "Policies", "Groups", "PublicKeys", "FederatedCredentials", "SecretArn"}
	for k := range raw {
		if !slices.Contains(known, k) {
			return p, fmt.Errorf("unknown property %q; known: %s", k, strings.Join(known[1:], ", "))
		}
	}
	str := func(k string) string { s, _ := raw[k].(string); return s }
	p.Tenant, p.Name, p.Description, p.SecretArn = str("Tenant"), str("Name"), str("Description"), str("SecretArn")
	var errs []error
	if !tenant.Valid(p.Tenant) {
		errs = append(errs, errors.New("property Tenant must be a tenant name (1-63 of a-z, 0-9, -)"))
	}
	if p.Name == "" {
		errs = append(errs, errors.New("property Name is required"))
	}
	if p.Description == "" {
		p.Description = "Declared in CloudFormation"
	}
	if len(p.Description) > maxDescription {
		errs = append(errs, fmt.Errorf("property Description is longer than %d characters", maxDescription))
	}
	if s := str("AccessTokenLifetime"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			errs = append(errs, errors.New("property AccessTokenLifetime must be a number of seconds"))
		}
		p.AccessTokenLifetime = n
	}
	for _, f := range []struct {
		key string
		dst any
	}{
		{"Scopes", &p.Scopes}, {"Audiences", &p.Audiences}, {"TokenClaims", &p.TokenClaims},
		{"Policies", &p.Policies}, {"Groups", &p.Groups}, {"PublicKeys", &p.PublicKeys},
		{"FederatedCredentials", &p.FederatedCredentials},
	} {
		v, ok := raw[f.key]
		if !ok {
			continue
		}
		if err := decode(v, f.dst); err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", f.key, err))
		}
	}
	for i, k := range p.PublicKeys {
		// A Jwk given as a JSON string (e.g. from !Sub) is read as JSON.
		var s string
		if json.Unmarshal(k.JWK, &s) == nil {
			p.PublicKeys[i].JWK = json.RawMessage(s)
		}
		if k.Kid() == "" && p.PublicKeys[i].Kid() == "" {
			errs = append(errs, fmt.Errorf("PublicKeys[%d]: Jwk needs a kid", i))
		}
	}
	for i, f := range p.FederatedCredentials {
		// Jwks given as a JSON string is read as JSON, as Jwk is.
		var s string
		if json.Unmarshal(f.JWKS, &s) == nil {
			p.FederatedCredentials[i].JWKS = json.RawMessage(s)
		}
	}
	if p.SecretArn != "" && !strings.HasPrefix(p.SecretArn, "arn:") {
		errs = append(errs, errors.New("property SecretArn must be the ARN of a Secrets Manager secret"))
	}
	if len(p.PublicKeys) == 0 && len(p.FederatedCredentials) == 0 && p.SecretArn == "" {
		errs = append(errs, errors.New("give PublicKeys, FederatedCredentials or SecretArn: a client needs a credential"))
	}
	return p, errors.Join(errs...)
}

// decode reads a CloudFormation value, keys matched case-insensitively
// (Action, Scope, Description, Jwk).
func decode(v, dst any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

func (p Properties) client() provision.Client {
	return provision.Client{
		Name: p.Name, Description: p.Description, GrantTypes: []string{"client_credentials"},
		Scopes: p.Scopes, Audiences: p.Audiences, AccessTokenLifetime: p.AccessTokenLifetime,
		TokenClaims: p.TokenClaims, Policies: p.Policies, Groups: p.Groups, PublicKeys: p.PublicKeys,
		FederatedCredentials: p.FederatedCredentials,
	}
}

// Provisioners returns a Connect that acts in each tenant as the client the
// secret at arn names for it: one iamctl profile, {"tenant", "clientId",
// "clientSecret"}, or a JSON array of them. The secret is read for every
// event, so a rotated provisioner secret takes effect at once.
func Provisioners(secrets SecretValues, arn, baseURL string, hc *http.Client) func(ctx context.Context, tenant string) (provision.API, error) {
	return func(ctx context.Context, ten string) (provision.API, error) {
		if arn == "" {
			return nil, errors.New("this deployment has no provisioner: set the ProvisionerSecretArn parameter")
		}
		raw, err := secrets.SecretValue(ctx, arn)
		if err != nil {
			return nil, fmt.Errorf("reading the provisioner secret: %w", err)
		}
		var profiles []apiclient.Credentials
		if strings.HasPrefix(strings.TrimSpace(raw), "[") {
			err = json.Unmarshal([]byte(raw), &profiles)
		} else {
			profiles = make([]apiclient.Credentials, 1)
			err = json.Unmarshal([]byte(raw), &profiles[0])
		}
		if err != nil {
			return nil, errors.New("the provisioner secret is not a profile {tenant, clientId, clientSecret} or an array of them")
		}
		for _, p := range profiles {
			if p.Tenant == ten {
				p.BaseURL = baseURL
				return apiclient.New(ctx, p, hc)
			}
		}
		return nil, fmt.Errorf("no provisioner for tenant %q: add its profile to the provisioner secret", ten)
	}
}
