package main

import (
	"io"
	"strings"
	"testing"
)

// Every subcommand's flags register without a clash (a clash panics at
// run time, before any work) and -h succeeds.
func TestEverySubcommandHelp(t *testing.T) {
	for _, name := range app.Names() {
		if code := app.Run(append(strings.Fields(name), "-h"), io.Discard); code != 0 {
			t.Errorf("kgen %s -h: exit %d", name, code)
		}
	}
}
