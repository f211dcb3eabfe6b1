package qemutests_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kdefer/kdefer/internal/checkpatch"
	"github.com/kdefer/kdefer/internal/e2e"
)

// The test module is kernel C and held to the series' standard: the
// 6.12 tree's own checkpatch.pl finds nothing in it, not even a warning,
// with one exception. checkpatch asks for <linux/nmi.h> instead of
// <asm/nmi.h>, but register_nmi_handler() is x86's and only in
// <asm/nmi.h>: <linux/nmi.h> includes it only under some watchdog and
// APEI options (as x86 drivers such as hpwdt know).
func TestModuleCheckpatchClean(t *testing.T) {
	tree := e2e.Tree(t, "6.12")
	for _, f := range []string{"module/unwind_test.c", "module/unwind_test_uapi.h"} {
		fs, err := checkpatch.Run(context.Background(), tree, f, checkpatch.Options{File: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range fs {
			if x.Type == "INCLUDE_LINUX" && strings.Contains(x.Message, "<asm/nmi.h>") {
				continue
			}
			t.Errorf("%s: %s", f, x)
		}
	}
}
