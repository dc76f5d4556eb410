package policiesapi

import (
	"net/http"

	"github.com/machine-iam/machine-iam/shared/web/httpapi"
	"github.com/machine-iam/machine-iam/shared/web/wire"
)

// Envelope B of api.md: page numbers, totals, pageSize clamped to 10-200.
const (
	minPageSize     = 10
	maxPageSize     = 200
	defaultPageSize = 50
)

// pageParams reads page and pageSize; pageSize is clamped, not refused, as
// Aritma does. Non-numbers are a 400.
func pageParams(r *http.Request) (page, size int, err error) {
	q := r.URL.Query()
	f := httpapi.Fields{}
	page = httpapi.IntParam(q, "page", 1, -1<<31, 1<<31-1, f)
	size = httpapi.IntParam(q, "pageSize", defaultPageSize, -1<<31, 1<<31-1, f)
	if err := f.Err(); err != nil {
		return 0, 0, err
	}
	return max(page, 1), min(max(size, minPageSize), maxPageSize), nil
}

// paginate cuts page page of size from all.
func paginate[T any](all []T, page, size int) wire.Page[T] {
	out := wire.Page[T]{Page: page, PageSize: size, Total: len(all), TotalPages: (len(all) + size - 1) / size, Data: []T{}}
	if start := (page - 1) * size; start < len(all) {
		out.Data = all[start:min(start+size, len(all))]
	}
	out.Count = len(out.Data)
	return out
}
