package main

import "testing"

// Every subcommand's flags register without a clash and -h succeeds.
func TestEverySubcommandHelp(t *testing.T) {
	for _, bad := range app.HelpFailures() {
		t.Error(bad)
	}
}
