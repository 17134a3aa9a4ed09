//go:build tools

// Package tools pins the Packer amazon plugin (MPL-2.0) for scripts/go-tools, which runs
// `go build github.com/hashicorp/packer-plugin-amazon` inside this module.
package tools

import _ "github.com/hashicorp/packer-plugin-amazon"
