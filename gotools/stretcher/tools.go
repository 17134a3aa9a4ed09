//go:build tools

// Package tools pins stretcher (MIT) for scripts/go-tools, which runs
// `go build github.com/fujiwara/stretcher/cmd/stretcher` inside this module.
package tools

import _ "github.com/fujiwara/stretcher/cmd/stretcher"
