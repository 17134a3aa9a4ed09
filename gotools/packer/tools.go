//go:build tools

// Package tools pins Packer 1.9, the last MPL-2.0 line for scripts/go-tools, which runs
// `go build github.com/hashicorp/packer` inside this module.
package tools

import _ "github.com/hashicorp/packer"
