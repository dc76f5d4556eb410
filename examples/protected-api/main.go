// Command protected-api is the example resource server's Lambda function
// (examples/protected-api/template.yaml).
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/machine-iam/machine-iam/examples/protected-api/hello"
)

func main() { lambda.Start(httpadapter.NewV2(hello.Handler()).ProxyWithContext) }
