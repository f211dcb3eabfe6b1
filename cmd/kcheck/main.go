// Command kcheck validates the deferred user-space unwinding series: host
// tools, static checks, builds, and boots in QEMU with self-tests. Each
// subcommand lives in its own file in this directory and registers itself
// in init.
package main

import "github.com/kdefer/kdefer/internal/cli"

var app = &cli.App{
	Name:    "kcheck",
	Summary: "check, build and boot the deferred user-space unwinding series",
	Footer: `Exit codes:
  0  everything passed
  1  a test failed, a check found a problem, or the console showed a splat
  2  the harness itself could not run (usage, missing tool, build or boot
     infrastructure failure)
  130 interrupted`,
}

func main() { app.Main() }
