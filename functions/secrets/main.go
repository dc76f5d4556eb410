// Command secrets is the secrets Lambda function. Build it with `make build`; run it
// locally through `make run`.
package main

import (
	"github.com/machine-iam/machine-iam/shared/endpoints/secretsapi"
	"github.com/machine-iam/machine-iam/shared/runtime/app"
)

func main() { app.Serve(secretsapi.New) }
