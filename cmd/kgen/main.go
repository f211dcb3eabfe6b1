// Command kgen renders the deferred user-space unwinding series for a
// kernel tree and applies it. Each subcommand lives in its own file in
// this directory and registers itself in init.
package main

import "github.com/kdefer/kdefer/internal/cli"

var app = &cli.App{
	Name:    "kgen",
	Summary: "render and apply the deferred user-space unwinding series",
	Footer: `Exit codes:
  0  success
  1  the requested check found a difference or failure
  2  the tool could not do its job (usage, I/O, missing tool, bad tree)
  130 interrupted (nothing was left half-written)
  Subcommands document more specific codes (10 and up) in their -h.`,
}

func main() { app.Main() }
