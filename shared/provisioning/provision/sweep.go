package provision

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/machine-iam/machine-iam/shared/iam/subject"
	"github.com/machine-iam/machine-iam/shared/provisioning/apiclient"
)

// An apply is a sequence of calls, and between them the tenant is open to
// everyone else's: a client allowed to write groups can join a group this
// apply just created, before its policies are granted (joining an empty
// group confers nothing, so the server allows it), and a client allowed to
// create secrets can add one to a client this apply just created, before
// its grants (a client that holds nothing needs nothing of the creator).
// Once the grants land, both would hold what the document gives. So after
// its steps, and even when one failed, an apply sweeps what it manages:
// every member of a declared group that the document does not declare
// leaves, and every credential of a client it created that it did not
// create itself is deleted, with that client's tokens revoked (they could
// have been minted with the planted credential).

// sweep removes what others added, during the apply, to what the apply
// manages, and returns what it removed.
func (p *Plan) sweep(ctx context.Context, r *run) ([]string, error) {
	var swept []string
	var errs []error
	for _, g := range p.declaredGroups {
		gid := r.groups[g.Name]
		if gid == "" {
			continue
		}
		members, err := r.api.Members(ctx, gid)
		if err != nil {
			errs = append(errs, fmt.Errorf("group %q: %w", g.Name, err))
			continue
		}
		want := p.declaredMembers(g, r)
		for _, m := range members {
			if slices.Contains(want, m.SubjectID) {
				continue
			}
			if err := r.api.RemoveMembers(ctx, gid, m.SubjectID); err != nil && !apiclient.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("group %q: removing %s: %w", g.Name, m.SubjectID, err))
				continue
			}
			swept = append(swept, fmt.Sprintf("group %q: %s joined during the apply, which the document does not declare; removed", g.Name, m.SubjectID))
		}
	}
	for id := range r.created {
		lines, err := p.sweepCredentials(ctx, r, id)
		swept = append(swept, lines...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return swept, errors.Join(errs...)
}

// declaredMembers are the subjects the document puts in group g: its users
// and the clients that list it.
func (p *Plan) declaredMembers(g Group, r *run) []string {
	want := slices.Clone(g.Users)
	for _, c := range p.declaredClients {
		if id := r.clients[c.Name]; id != "" && slices.Contains(c.Groups, g.Name) {
			want = append(want, subject.ID(subject.Client, id))
		}
	}
	return want
}

// sweepCredentials deletes the secrets, keys and federated credentials of a client this apply
// created that the apply did not create, and revokes its tokens if there
// were any.
func (p *Plan) sweepCredentials(ctx context.Context, r *run, clientID string) ([]string, error) {
	secrets, err := r.api.ListSecrets(ctx, clientID)
	if err != nil {
		return nil, fmt.Errorf("secrets of %s: %w", clientID, err)
	}
	keys, err := r.api.ListKeys(ctx, clientID)
	if err != nil {
		return nil, fmt.Errorf("keys of %s: %w", clientID, err)
	}
	federated, err := r.api.ListFederatedCredentials(ctx, clientID)
	if err != nil {
		return nil, fmt.Errorf("federated credentials of %s: %w", clientID, err)
	}
	var swept []string
	for _, f := range federated {
		if !r.own[f.ID] {
			if err := r.api.DeleteFederatedCredential(ctx, clientID, f.ID); err != nil && !apiclient.IsNotFound(err) {
				return swept, err
			}
			swept = append(swept, fmt.Sprintf("client %s: federated credential %s was added during the apply by someone else; deleted", clientID, f.ID))
		}
	}
	for _, s := range secrets {
		if !r.own[s.ID] {
			if err := r.api.DeleteSecret(ctx, clientID, s.ID); err != nil && !apiclient.IsNotFound(err) {
				return swept, err
			}
			swept = append(swept, fmt.Sprintf("client %s: secret %s was added during the apply by someone else; deleted", clientID, s.ID))
		}
	}
	for _, k := range keys {
		if !r.own[k.ID] {
			if err := r.api.DeleteKey(ctx, clientID, k.ID); err != nil && !apiclient.IsNotFound(err) {
				return swept, err
			}
			swept = append(swept, fmt.Sprintf("client %s: key %s was added during the apply by someone else; deleted", clientID, k.Kid))
		}
	}
	if len(swept) > 0 {
		if err := r.api.RevokeTokens(ctx, clientID); err != nil {
			return swept, fmt.Errorf("revoking the tokens of %s: %w", clientID, err)
		}
		swept = append(swept, fmt.Sprintf("client %s: its tokens were revoked", clientID))
	}
	return swept, nil
}
