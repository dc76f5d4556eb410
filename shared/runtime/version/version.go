// Package version holds the release a binary was built from. The Makefile
// stamps it into every build with
//
//	-ldflags '-X github.com/machine-iam/machine-iam/shared/runtime/version.Version=<git describe --tags --always --dirty>'
//
// so the functions' start-up lines and `iamctl version` name the code that
// runs; a plain `go build` or `go run` says "dev".
package version

// Version is the release, such as v0.9.0 or v0.9.0-3-gabc1234-dirty. It is a
// variable, not a constant, because -X can only set variables.
var Version = "dev"
