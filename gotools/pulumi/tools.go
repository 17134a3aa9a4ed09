//go:build tools

// Package tools pins the Pulumi CLI for scripts/go-tools, which runs
// `go build github.com/pulumi/pulumi/pkg/v3/cmd/pulumi` inside this module.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
