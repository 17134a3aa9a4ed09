//go:build tools

// Package tools pins Consul 1.14.11 (MPL-2.0, the last line that is open source and builds from
// the module proxy) for scripts/go-tools, which runs `go build github.com/hashicorp/consul` here.
package tools

import _ "github.com/hashicorp/consul"
