package clientsapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/machine-iam/machine-iam/shared/endpoints/access"
	"github.com/machine-iam/machine-iam/shared/oauth/client"
	"github.com/machine-iam/machine-iam/shared/storage/listing"
	"github.com/machine-iam/machine-iam/shared/storage/store"
	"github.com/machine-iam/machine-iam/shared/web/httpapi"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// badCursor is what a cursor that is not from a link of this listing gets.
const badCursor = "must be a cursor from a link of this listing"

// list answers envelope A with bounded reads (shared/storage/listing): the
// total comes from the tenant's client count, a page from one keyset read,
// and a search reads at most listing.SearchScan clients per request.
func (s *Service) list(w http.ResponseWriter, r *http.Request) error {
	req, query, err := listParams(r.URL.Query())
	if err != nil {
		return err
	}
	ctx, tenant := r.Context(), access.TenantOf(r)
	total := 0
	if req.Search == "" {
		if total, err = s.Clients.CountClients(ctx, tenant); err != nil {
			return err
		}
		if query.Last {
			query.Limit = max(1, total-(listing.LastPage(total, req.Size)-1)*req.Size)
		}
	}
	found, err := s.Clients.ListClients(ctx, tenant, query)
	if errors.Is(err, store.ErrBadPosition) {
		return httpapi.Invalid(map[string][]string{"cursor": {badCursor}})
	}
	if err != nil {
		return err
	}
	out := wire.ClientList{Items: make([]wire.Client, 0, len(found.Items)),
		Metadata: wire.PageMetadata{Page: req.PageNumber(), PageSize: req.Size}}
	for _, c := range found.Items {
		out.Items = append(out.Items, toResponse(c))
	}
	if req.Search != "" {
		searchLinks(&out, req, found)
	} else {
		browseLinks(&out, req, query, found, total)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// listParams reads the listing's page, pageSize, searchText and cursor.
func listParams(q url.Values) (listing.Request, store.PageQuery, error) {
	f := httpapi.Fields{}
	req := listing.Request{
		Page:   httpapi.IntParam(q, "page", 1, 1, 1<<31-1, f),
		Size:   httpapi.IntParam(q, "pageSize", DefaultPageSize, 1, MaxPageSize, f),
		Search: q.Get("searchText"),
	}
	if raw := q.Get("cursor"); raw != "" {
		c, err := listing.Decode(raw)
		if err != nil {
			f.Add("cursor", badCursor)
		}
		req.Cursor = &c
	}
	query, err := req.Query()
	if err != nil {
		f.Add("page", err.Error())
	}
	return req, query, f.Err()
}

// link is the listing's page at c (nil for the first), with req's page
// size and search.
func link(req listing.Request, c *listing.Cursor) *string {
	v := url.Values{"pageSize": {strconv.Itoa(req.Size)}}
	if req.Search != "" {
		v.Set("searchText", req.Search)
	}
	if c != nil {
		v.Set("cursor", c.Encode())
	}
	s := "/v1/clients?" + v.Encode()
	return &s
}

// searchLinks completes a search's page. A search counts the matches up to
// where it has read (at most listing.SearchScan clients): the total is
// exact when that reaches the end of the tenant, and a lower bound before.
// It pages forward.
func searchLinks(out *wire.ClientList, req listing.Request, found store.Page[client.Client]) {
	before := 0
	if req.Cursor != nil {
		before = req.Cursor.Found
	}
	out.Metadata.TotalCount = before + found.Matched
	out.Links.First = link(req, nil)
	if found.More {
		out.Links.Next = link(req, &listing.Cursor{After: found.Last, Page: out.Metadata.Page + 1, Found: before + len(out.Items)})
	} else {
		out.Links.Last = link(req, req.Cursor) // this page
	}
}

// browseLinks completes a page of the whole listing, which may have been
// read backward (from a previous or the last link).
func browseLinks(out *wire.ClientList, req listing.Request, query store.PageQuery, found store.Page[client.Client], total int) {
	last := listing.LastPage(total, req.Size)
	if query.Last {
		out.Metadata.Page = last
	}
	pageNo, n := out.Metadata.Page, len(out.Items)
	backward := query.Before != "" || query.Last
	out.Metadata.TotalCount = total
	out.Links.First = link(req, nil)
	out.Links.Last = link(req, &listing.Cursor{Last: true, Page: last})
	if pageNo > 1 && n > 0 {
		out.Links.Previous = link(req, &listing.Cursor{Before: found.First, Page: pageNo - 1})
	}
	if n > 0 && (found.More && !backward || backward && pageNo < last) {
		out.Links.Next = link(req, &listing.Cursor{After: found.Last, Page: pageNo + 1})
	}
}
