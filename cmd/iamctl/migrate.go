package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/provisioning/provision"
)

// imported is one client read from another server's export, with the
// secret value it carries (if any), before it becomes a document entry.
type imported struct {
	client provision.Client
	secret string
	// secretFromEnv: the export holds no value (Hydra lists only hashes);
	// the document names an environment variable to hold it.
	secretFromEnv bool
}

// notePrefix marks what a reader says about a client it imported, among
// the reasons for those it left out.
const notePrefix = "note: "

// importFormats reads an export of each supported server; each returns
// the clients and, per client left out, why.
var importFormats = map[string]func(raw []byte) ([]imported, []string, error){
	"cognito":  fromCognito,
	"keycloak": fromKeycloak,
	"hydra":    fromHydra,
}

func importCmd(f *flags) runner {
	from := f.String("from", "", "the export's format: cognito, keycloak or hydra")
	out := f.String("out", "", "where the document goes: a new file (default: standard output)")
	secretsDir := f.String("secrets-dir", "", "a directory for the secret values the export carries, one new 0600 file per client; the document names the files")
	var scopeMap stringList
	f.Var(&scopeMap, "map-scope", "OLD=NEW: write scope OLD as NEW (repeatable; NEW empty drops it)")
	name := f.String("name", "", "the document's name (default: imported-FORMAT)")
	return func(_ context.Context, cio cmdIO, pos []string) error {
		read, ok := importFormats[*from]
		if !ok {
			return usagef("--from must be cognito, keycloak or hydra")
		}
		mapping := map[string]string{}
		for _, kv := range scopeMap {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return usagef("--map-scope %q: want OLD=NEW", kv)
			}
			mapping[k] = v
		}
		raw, err := readInput(cio, pos[0], provision.MaxDocument+1)
		if err != nil {
			return err
		}
		clients, skipped, err := read(raw)
		if err != nil {
			return fmt.Errorf("%s: not a %s export: %w", pos[0], *from, err)
		}
		for _, s := range skipped {
			if note, ok := strings.CutPrefix(s, notePrefix); ok {
				fmt.Fprintln(cio.stderr, "Note: "+note)
			} else {
				fmt.Fprintln(cio.stderr, "Skipped: "+s)
			}
		}
		if *name == "" {
			*name = "imported-" + *from
		}
		doc, err := importDocument(clients, mapping, *name, *secretsDir, *out)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "# Imported from a %s export by iamctl import: check it with iamctl plan -f FILE.\n", *from)
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(doc); err != nil {
			return err
		}
		if *out == "" {
			_, err = cio.stdout.Write(b.Bytes())
			return err
		}
		fh, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("--out: %w (it must not exist yet)", err)
		}
		if _, err := fh.Write(b.Bytes()); err != nil {
			fh.Close()
			return err
		}
		return fh.Close()
	}
}

// importDocument makes the desired-state document of clients. Secret
// values go to files under secretsDir, named relative to the document's
// directory when it is written to out, by absolute path otherwise.
func importDocument(clients []imported, scopeMap map[string]string, name, secretsDir, out string) (*yaml.Node, error) {
	needsDir := slices.ContainsFunc(clients, func(c imported) bool { return c.secret != "" })
	if needsDir && secretsDir == "" {
		return nil, usagef("the export carries secret values: name a directory for them with --secrets-dir DIR (they never go into the document)")
	}
	if needsDir {
		if err := os.MkdirAll(secretsDir, 0o700); err != nil {
			return nil, err
		}
	}
	names := map[string]bool{}
	var entries []provision.Client
	for _, im := range clients {
		c := im.client
		var scopes []string
		for _, s := range c.Scopes {
			if to, ok := scopeMap[s]; ok {
				s = to
			}
			if s != "" && !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
		c.Scopes = scopes
		if names[c.Name] {
			c.Name += " (" + c.ClientID + ")"
		}
		names[c.Name] = true
		switch {
		case im.secret != "":
			path := filepath.Join(secretsDir, c.ClientID+".secret")
			if err := writeSecretFile(path, []byte(im.secret+"\n")); err != nil {
				return nil, fmt.Errorf("writing the secret of %s: %w (it must not exist yet)", c.ClientID, err)
			}
			ref, err := docPath(path, out)
			if err != nil {
				return nil, err
			}
			c.ImportSecrets = []provision.ImportSecret{{Description: "Imported secret", FromFile: ref}}
		case im.secretFromEnv:
			c.ImportSecrets = []provision.ImportSecret{{Description: "Imported secret", FromEnv: envName(c.ClientID)}}
		}
		entries = append(entries, c)
	}
	// Through JSON, so the YAML has the document's field names in their
	// order and leaves out what is empty; JSON is YAML, in flow style,
	// which block style makes readable.
	b, err := json.Marshal(provision.Document{Version: 1, Name: name, Clients: entries})
	if err != nil {
		return nil, err
	}
	var tree yaml.Node
	if err := yaml.Unmarshal(b, &tree); err != nil {
		return nil, err
	}
	blockStyle(&tree)
	return &tree, nil
}

func blockStyle(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle | yaml.DoubleQuotedStyle
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// docPath is how the document names path: relative to the directory of
// out, or absolute when the document goes to standard output.
func docPath(path, out string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil || out == "" {
		return abs, err
	}
	dir, err := filepath.Abs(filepath.Dir(out))
	if err != nil {
		return "", err
	}
	return filepath.Rel(dir, abs)
}

// envName is the environment variable that holds the secret of a client
// whose export has none: SECRET_ and the id, upper-cased, with every
// character outside A-Z 0-9 as _.
func envName(clientID string) string {
	return "SECRET_" + strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z':
			return r - 'a' + 'A'
		case 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
			return r
		}
		return '_'
	}, clientID)
}

// keep reports whether a client id can be kept as it is, or why not.
func keep(clientID string) string {
	if msg := subject.CheckClientID(clientID); msg != "" {
		return fmt.Sprintf("client id %q cannot be kept: it %s", clientID, msg)
	}
	return ""
}

// decodeAll reads one or more JSON values in a row (a loop of CLI calls
// writes them so) into fn.
func decodeAll(raw []byte, fn func(json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	n := 0
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			if n == 0 {
				return errors.New("no JSON value")
			}
			return nil
		}
		if err != nil {
			return err
		}
		n++
		if err := fn(v); err != nil {
			return err
		}
	}
}

// cognitoClient is the part of describe-user-pool-client's UserPoolClient
// an import reads.
type cognitoClient struct {
	UserPoolID          string   `json:"UserPoolId"`
	ClientName          string   `json:"ClientName"`
	ClientID            string   `json:"ClientId"`
	ClientSecret        string   `json:"ClientSecret"`
	AllowedOAuthFlows   []string `json:"AllowedOAuthFlows"`
	AllowedOAuthScopes  []string `json:"AllowedOAuthScopes"`
	CallbackURLs        []string `json:"CallbackURLs"`
	AccessTokenValidity int      `json:"AccessTokenValidity"`
	TokenValidityUnits  struct {
		AccessToken string `json:"AccessToken"`
	} `json:"TokenValidityUnits"`
}

// fromCognito reads the output of aws cognito-idp describe-user-pool-client
// (one or several, or a JSON array of them).
func fromCognito(raw []byte) ([]imported, []string, error) {
	var list []cognitoClient
	err := decodeAll(raw, func(v json.RawMessage) error {
		var many []struct{ UserPoolClient *cognitoClient }
		if json.Unmarshal(v, &many) == nil {
			for _, m := range many {
				if m.UserPoolClient != nil {
					list = append(list, *m.UserPoolClient)
				}
			}
			return nil
		}
		var one struct{ UserPoolClient *cognitoClient }
		if err := json.Unmarshal(v, &one); err != nil || one.UserPoolClient == nil {
			return errors.New("want describe-user-pool-client output ({\"UserPoolClient\": {...}})")
		}
		list = append(list, *one.UserPoolClient)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var out []imported
	var skipped []string
	for _, c := range list {
		var grants []string
		for _, f := range c.AllowedOAuthFlows {
			switch f {
			case "client_credentials":
				grants = append(grants, "client_credentials")
			case "code":
				grants = append(grants, "authorization_code")
			}
		}
		switch {
		case c.ClientSecret == "":
			skipped = append(skipped, fmt.Sprintf("%s (%s): a public client (no secret); this service has confidential clients only", c.ClientID, c.ClientName))
			continue
		case len(grants) == 0:
			skipped = append(skipped, fmt.Sprintf("%s (%s): no client_credentials or code flow", c.ClientID, c.ClientName))
			continue
		case keep(c.ClientID) != "":
			skipped = append(skipped, keep(c.ClientID))
			continue
		}
		lifetime := c.AccessTokenValidity
		switch c.TokenValidityUnits.AccessToken {
		case "seconds":
		case "minutes":
			lifetime *= 60
		case "days":
			lifetime *= 86400
		default: // Cognito's default unit is hours.
			lifetime *= 3600
		}
		out = append(out, imported{secret: c.ClientSecret, client: provision.Client{
			Name: nameOr(c.ClientName, c.ClientID), ClientID: c.ClientID, Description: "Imported from Amazon Cognito user pool " + c.UserPoolID,
			GrantTypes: grants, Scopes: c.AllowedOAuthScopes, RedirectURIs: c.CallbackURLs, AccessTokenLifetime: lifetime,
		}})
	}
	return out, skipped, nil
}

func nameOr(name, clientID string) string {
	if strings.TrimSpace(name) == "" || strings.HasPrefix(name, "${") {
		return clientID
	}
	return name
}

// keycloakBuiltinScopes are the client scopes every Keycloak realm has;
// they name OpenID Connect claims, not APIs, so an import leaves them out.
var keycloakBuiltinScopes = []string{"acr", "address", "basic", "email", "microprofile-jwt", "offline_access", "organization",
	"phone", "profile", "role_list", "roles", "web-origins", "service_account"}

// fromKeycloak reads a realm export (kc.sh export, or the admin console's
// partial export): its confidential clients with a service account.
func fromKeycloak(raw []byte) ([]imported, []string, error) {
	var realm struct {
		Realm   string `json:"realm"`
		Clients []struct {
			ClientID               string            `json:"clientId"`
			Name                   string            `json:"name"`
			Description            string            `json:"description"`
			Enabled                *bool             `json:"enabled"`
			PublicClient           bool              `json:"publicClient"`
			BearerOnly             bool              `json:"bearerOnly"`
			ServiceAccountsEnabled bool              `json:"serviceAccountsEnabled"`
			StandardFlowEnabled    bool              `json:"standardFlowEnabled"`
			ClientAuthenticator    string            `json:"clientAuthenticatorType"`
			Secret                 string            `json:"secret"`
			RedirectURIs           []string          `json:"redirectUris"`
			DefaultClientScopes    []string          `json:"defaultClientScopes"`
			OptionalClientScopes   []string          `json:"optionalClientScopes"`
			Attributes             map[string]string `json:"attributes"`
		} `json:"clients"`
	}
	if err := json.Unmarshal(raw, &realm); err != nil {
		return nil, nil, err
	}
	if realm.Realm == "" {
		return nil, nil, errors.New("want a realm export ({\"realm\": ..., \"clients\": [...]})")
	}
	var out []imported
	var skipped []string
	for _, c := range realm.Clients {
		switch {
		case c.PublicClient || c.BearerOnly || !c.ServiceAccountsEnabled:
			continue // not a machine client: nothing to say about each built-in
		case c.Enabled != nil && !*c.Enabled:
			skipped = append(skipped, c.ClientID+": disabled")
			continue
		case keep(c.ClientID) != "":
			skipped = append(skipped, keep(c.ClientID))
			continue
		}
		im := imported{client: provision.Client{Name: nameOr(c.Name, c.ClientID), ClientID: c.ClientID,
			Description: nameOr(c.Description, "Imported from Keycloak realm "+realm.Realm), GrantTypes: []string{"client_credentials"}}}
		if c.StandardFlowEnabled && len(c.RedirectURIs) > 0 {
			im.client.GrantTypes = append(im.client.GrantTypes, "authorization_code")
			im.client.RedirectURIs = c.RedirectURIs
		}
		for _, s := range slices.Concat(c.DefaultClientScopes, c.OptionalClientScopes) {
			if !slices.Contains(keycloakBuiltinScopes, s) {
				im.client.Scopes = append(im.client.Scopes, s)
			}
		}
		if n, err := strconv.Atoi(c.Attributes["access.token.lifespan"]); err == nil && n > 0 {
			im.client.AccessTokenLifetime = n
		}
		switch {
		case c.ClientAuthenticator != "" && c.ClientAuthenticator != "client-secret":
			skipped = append(skipped, notePrefix+c.ClientID+": authenticates with "+c.ClientAuthenticator+"; its entry has no secret: add its public key under publicKeys before apply (otherwise apply generates a secret)")
		case c.Secret == "" || strings.Trim(c.Secret, "*") == "":
			// The admin console's partial export masks secrets.
			im.secretFromEnv = true
		default:
			im.secret = c.Secret
		}
		out = append(out, im)
	}
	return out, skipped, nil
}

// fromHydra reads hydra list oauth2-clients --format json, or the admin
// API's GET /admin/clients: Hydra keeps only secret hashes, so a client's
// value comes from an environment variable unless the export has it (as
// hydra create oauth2-client prints it).
func fromHydra(raw []byte) ([]imported, []string, error) {
	type hydraClient struct {
		ClientID     string   `json:"client_id"`
		ClientName   string   `json:"client_name"`
		ClientSecret string   `json:"client_secret"`
		GrantTypes   []string `json:"grant_types"`
		Scope        string   `json:"scope"`
		RedirectURIs []string `json:"redirect_uris"`
		Audience     []string `json:"audience"`
		AuthMethod   string   `json:"token_endpoint_auth_method"`
		CCLifespan   *string  `json:"client_credentials_grant_access_token_lifespan"`
	}
	var list []hydraClient
	err := decodeAll(raw, func(v json.RawMessage) error {
		var page struct{ Items *[]hydraClient }
		var many []hydraClient
		if json.Unmarshal(v, &many) == nil {
			list = append(list, many...)
			return nil
		}
		if err := json.Unmarshal(v, &page); err != nil || page.Items == nil {
			return errors.New("want a JSON array of clients, or {\"items\": [...]}")
		}
		list = append(list, *page.Items...)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var out []imported
	var skipped []string
	for _, c := range list {
		var grants []string
		for _, g := range c.GrantTypes {
			if g == "client_credentials" || g == "authorization_code" {
				grants = append(grants, g)
			}
		}
		switch {
		case c.AuthMethod == "none":
			skipped = append(skipped, c.ClientID+": a public client (token_endpoint_auth_method none)")
			continue
		case len(grants) == 0:
			skipped = append(skipped, c.ClientID+": no client_credentials or authorization_code grant")
			continue
		case keep(c.ClientID) != "":
			skipped = append(skipped, keep(c.ClientID))
			continue
		}
		im := imported{client: provision.Client{Name: nameOr(c.ClientName, c.ClientID), ClientID: c.ClientID,
			Description: "Imported from Ory Hydra", GrantTypes: grants, Scopes: strings.Fields(c.Scope),
			RedirectURIs: c.RedirectURIs, Audiences: c.Audience}}
		if c.CCLifespan != nil {
			if d, err := time.ParseDuration(*c.CCLifespan); err == nil && d > 0 {
				im.client.AccessTokenLifetime = int(d / time.Second)
			}
		}
		switch {
		case c.AuthMethod == "private_key_jwt":
			skipped = append(skipped, notePrefix+c.ClientID+": authenticates with private_key_jwt; its entry has no secret: add its public key under publicKeys before apply (otherwise apply generates a secret)")
		case c.ClientSecret != "":
			im.secret = c.ClientSecret
		default:
			im.secretFromEnv = true
		}
		out = append(out, im)
	}
	return out, skipped, nil
}
