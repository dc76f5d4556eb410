// Package listing maps the API's paged listings (page numbers, next and
// previous links, searches) onto bounded store reads: following a link
// reads one page whatever the tenant's size, a page jump reads at most
// MaxDepth items, and a search at most SearchScan items per request.
package listing

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/machine-iam/machine-iam/shared/storage/store"
)

const (
	// MaxDepth bounds a page jump (page=N without a cursor): it skips at
	// most this many items; deeper pages are reached by following links.
	MaxDepth = 10_000
	// SearchScan bounds what one search request reads. A search cannot use
	// an index (it matches anywhere in a name), so a request reads names in
	// order until its page is full or this many are read; its next link goes
	// on from there.
	SearchScan = 2_500
)

// Cursor is a position in a listing, carried by next, previous and last
// links: opaque to clients.
type Cursor struct {
	After  string `json:"a,omitempty"`
	Before string `json:"b,omitempty"`
	Last   bool   `json:"l,omitempty"`
	Page   int    `json:"p"`
	// Found counts the matches before the page, in a search.
	Found int `json:"f,omitempty"`
}

// Encode makes the cursor a query parameter value.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// maxPosition is the longest position: DynamoDB's limit for a sort key.
const maxPosition = 1024

// ErrCursor is a cursor this service did not make.
var ErrCursor = errors.New("not a cursor of this listing")

// Decode reads a cursor and checks its positions' shape.
func Decode(s string) (Cursor, error) {
	var c Cursor
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) > 2048 || json.Unmarshal(raw, &c) != nil || c.Page < 1 || c.Found < 0 {
		return Cursor{}, ErrCursor
	}
	// The store checks a position's shape (store.ErrBadPosition).
	if len(c.After) > maxPosition || len(c.Before) > maxPosition {
		return Cursor{}, ErrCursor
	}
	if c.After != "" && c.Before != "" || c.Last && c.After+c.Before != "" {
		return Cursor{}, ErrCursor
	}
	return c, nil
}

// Request is one request of a listing.
type Request struct {
	Page, Size int
	Search     string
	Cursor     *Cursor
	// NumbersOnly marks a listing without cursors (envelope B): a search
	// there reaches by page number as far as a page jump may, MaxDepth
	// clients, and no further.
	NumbersOnly bool
}

// Query is the store read for r. A page jump deeper than MaxDepth is an
// error that says how to get there.
func (r Request) Query() (store.PageQuery, error) {
	q := store.PageQuery{Limit: r.Size, Search: r.Search}
	if r.Search != "" {
		q.ScanLimit = SearchScan
		if r.NumbersOnly {
			q.ScanLimit = MaxDepth
		} else if r.Cursor == nil && r.Page > 1 {
			return q, errors.New("a search pages by its next links, not by page number")
		}
	}
	switch c := r.Cursor; {
	case c == nil:
		q.Skip = (r.Page - 1) * r.Size
		if q.Skip > MaxDepth {
			return q, fmt.Errorf("page %d starts past item %d, the deepest a page number may reach: follow the next links (or the last link) instead", r.Page, MaxDepth)
		}
	case c.Last:
		q.Last = true
	default:
		q.After, q.Before = c.After, c.Before
	}
	return q, nil
}

// PageNumber is the number of the page r asks for.
func (r Request) PageNumber() int {
	if r.Cursor != nil {
		return r.Cursor.Page
	}
	return r.Page
}

// LastPage is the number of the last page of total items.
func LastPage(total, size int) int { return max(1, (total+size-1)/size) }
