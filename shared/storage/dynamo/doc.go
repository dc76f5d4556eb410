// Package dynamo implements the store interfaces on one DynamoDB table
// (layout in keys.go). Decisions read strongly consistent; multi-item changes
// are transactions or ordered, idempotent sequences; every failure other than
// the store sentinels wraps fault.ErrUnavailable.
package dynamo
