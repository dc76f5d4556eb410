// Command token is the token Lambda function. Build it with `make build`; run it
// locally through `make run`.
package main

import (
	"github.com/machine-iam/machine-iam/shared/app"
	"github.com/machine-iam/machine-iam/shared/tokenapi"
)

func main() { app.Serve(tokenapi.New) }
