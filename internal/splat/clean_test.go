package splat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// falseAlarms are console lines that contain a report keyword but that
// no kernel report path prints: user-space messages, kernel notices
// and programs quoting a header.
var falseAlarms = []string{
	"WARNING: /etc/ssh/moduli does not exist, using fixed modulus",
	"WARNING: The mand mount option has been deprecated and",
	"WARNING: fbcon: Driver 'vc4drmfb' missed to adjust virtual screen size (0x0 vs. 1920x1080)",
	"WARNING: Unsupported flag value(s) of 0x8000000 in DT_FLAGS_1.",
	"WARNING: 'iwconfig' USES WIRELESS EXTENSIONS, which are deprecated: use nl80211",
	"[    0.101047] Spectre V2 : WARNING: Unprivileged eBPF is enabled with eIBRS on, data leaks possible via Spectre v2 BHB attacks!",
	"[    0.120312] ... MAX_LOCKDEP_SUBCLASSES:  8",
	"[    3.530126] INFO: NMI handler (perf_event_nmi_handler) took too long to run: 1.102 msecs",
	"[    0.201117] kmemleak: Kernel memory leak detector disabled",
	"thread 'main' panicked at src/main.rs:14:5:",
	"    # BUG: expected 3 entries, found 2",
	"[   21.441812] # Skipping BUG: crashes entire system",
	"Nov 02 10:14:09 host gnome-shell[1411]: Oops: the extension \"dash-to-dock\" failed to load",
	"[   22.301301] # general protection fault handling is covered elsewhere",
	"[    2.000000] WARNING: Flushing system-wide workqueues will be prohibited in near future.",
	"[    0.100000] WARNING: 'bootconfig' found on the kernel command line but CONFIG_BOOT_CONFIG is not set.",
}

func TestFalseAlarmLines(t *testing.T) {
	for _, l := range falseAlarms {
		// Alone, and framed the way the mand mount notice is.
		for _, log := range []string{l, "=====================================================\n" + l + "\n         and more text\n====================================================="} {
			if got := ScanBytes([]byte(log)); len(got) != 0 {
				t.Errorf("%q: found %s: %q", l, got[0].Kind, got[0].Title)
			}
		}
	}
}

func TestCleanLogs(t *testing.T) {
	files, _ := filepath.Glob("testdata/clean/*.log")
	files = append(files, "testdata/clean.log")
	if len(files) < 5 {
		t.Fatalf("only %d clean logs", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range ScanBytes(b) {
			t.Errorf("%s:%d: %s: %q from %q", f, g.Line, g.Kind, g.Title, strings.TrimSpace(g.Header))
		}
	}
}
