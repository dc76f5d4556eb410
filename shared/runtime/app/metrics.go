package app

import (
	"context"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/middleware"

	"github.com/machine-iam/machine-iam/shared/runtime/metric"
)

// DependencyMetrics is a LoadAWS option that records every AWS call's
// latency and failure (metric.Called), retries included, by service:
// DynamoDB, KMS, STS. Only the functions use it: iamctl's standard output
// is its own.
func DependencyMetrics() func(*config.LoadOptions) error {
	return config.WithAPIOptions([]func(*middleware.Stack) error{func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("DependencyMetrics",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				start := time.Now()
				out, md, err := next.HandleInitialize(ctx, in)
				metric.Called(dependencyName(awsmiddleware.GetServiceID(ctx)), time.Since(start), err)
				return out, md, err
			}), middleware.Before)
	}})
}

// dependencyName is the Dependency dimension of an SDK service id.
func dependencyName(serviceID string) string {
	switch serviceID {
	case "DynamoDB":
		return metric.DynamoDB
	case "KMS":
		return metric.KMS
	case "STS":
		return metric.STS
	}
	return serviceID
}
