//go:build tools

// Package tools pins consul-template (MPL-2.0) for scripts/go-tools, which runs
// `go build github.com/hashicorp/consul-template` inside this module.
package tools

import _ "github.com/hashicorp/consul-template"
