package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

var (
	apiTable = table[wire.API]{[]string{"API ID", "IDENTIFIER", "NAME", "SCOPES", "ACTIONS"},
		func(a wire.API) []string {
			var scopes, actions []string
			for _, s := range a.Scopes {
				scopes = append(scopes, s.Name)
			}
			for _, x := range a.Actions {
				actions = append(actions, x.Action)
			}
			return []string{a.APIID, a.Identifier, a.Name, list(scopes), list(actions)}
		}}
	apisList = readCommand(apiTable, func(ctx context.Context, api *apiclient.Client, _ []string) (any, []wire.API, error) {
		return all(api.ListAPIs(ctx))
	})
	apisGet = readCommand(apiTable, func(ctx context.Context, api *apiclient.Client, pos []string) (any, []wire.API, error) {
		return one(api.GetAPI(ctx, pos[0]))
	})
	apisDelete = idCommand(func(ctx context.Context, api *apiclient.Client, pos []string) error {
		return api.DeleteAPI(ctx, pos[0])
	})
)

// apisCreate registers an API from flags, or from a JSON body (-f) as
// POST /v1/apis takes it.
func apisCreate(f *flags) runner {
	file := f.String("f", "", "a JSON file holding the whole body, as POST /v1/apis takes it")
	identifier := f.String("identifier", "", "absolute URI: the resource clients ask tokens for, and their aud")
	name := f.String("name", "", "name (1-200 characters)")
	desc := f.String("description", "", "description (up to 1000 characters)")
	discoverable := f.Bool("discoverable", false, "list the API's scopes in the tenant's discovery document")
	var scopes, actions stringList
	f.Var(&scopes, "scope", "OAuth scope NAME (repeatable)")
	f.Var(&actions, "action", "action NAME or NAME:PARENT, PARENT another action of the API (repeatable)")
	return func(ctx context.Context, cio cmdIO, _ []string) error {
		var req wire.APIRequest
		if *file != "" {
			b, err := os.ReadFile(*file)
			if err != nil {
				return err
			}
			dec := json.NewDecoder(strings.NewReader(string(b)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				return fmt.Errorf("%s: %w", *file, err)
			}
		} else {
			req = wire.APIRequest{Identifier: identifier, Name: name, Description: desc, Discoverable: discoverable,
				Scopes: &[]wire.APIScope{}, Actions: &[]wire.APIAction{}}
			for _, s := range scopes {
				*req.Scopes = append(*req.Scopes, wire.APIScope{Name: s})
			}
			for _, a := range actions {
				act, parent, hasParent := strings.Cut(a, ":")
				x := wire.APIAction{Action: act}
				if hasParent {
					x.Parent = &parent
				}
				*req.Actions = append(*req.Actions, x)
			}
		}
		api, err := f.api(ctx)
		if err != nil {
			return err
		}
		a, err := api.CreateAPI(ctx, req)
		if err != nil {
			return err
		}
		return apiTable.print(f, cio.stdout, a, a)
	}
}
