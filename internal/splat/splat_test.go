package splat

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The logs in testdata/ are real serial consoles of this project's
// kernel (tinyconfig + Kconfig.frag, Linux 6.12) booted in QEMU with the
// trigger module in testdata/trigger (trigger.c, kinit.c). They were
// produced by
//
//	KDEFER_E2E=1 KDEFER_REGEN_SPLATS=1 go test -run RegenerateSplatLogs ./internal/boot
//
// Each case lists the findings expected, in order: kind and a regexp
// for the title.
var realLogs = []struct {
	file string
	want [][3]string // kind, header regexp, title
}{
	{"clean.log", nil},
	{"warn.log", [][3]string{{KindWarning, `^WARNING: CPU: \d+ PID: \d+ at .*trigger\.c:\d+ trigger_init`, "WARNING in trigger_init"}}},
	{"bug.log", [][3]string{{KindBug, `^kernel BUG at .*trigger\.c:\d+!`, "kernel BUG in trigger_init"}}},
	{"null.log", [][3]string{{KindBug, `^BUG: kernel NULL pointer dereference, address: 0000000000000000`, "BUG: kernel NULL pointer dereference in trigger_init"}}},
	{"gpf.log", [][3]string{{KindGPF, `general protection fault`, "general protection fault in trigger_init"}}},
	{"lockdep.log", [][3]string{{KindLockdep, `^WARNING: possible circular locking dependency detected`, "possible deadlock in take_ba"}}},
	{"rcu-usage.log", [][3]string{{KindLockdep, `^WARNING: suspicious RCU usage`, "suspicious RCU usage in trigger_init"}}},
	{"atomic-sleep.log", [][3]string{{KindAtomicSleep, `^BUG: sleeping function called from invalid context at .*trigger\.c`, "BUG: sleeping function called from invalid context in trigger_init"}}},
	{"rcu-stall.log", [][3]string{{KindRCUStall, `^rcu: INFO: rcu_\w+ (self-)?detected stall`, "INFO: rcu detected stall in spin_for"}}},
	{"lockup.log", [][3]string{{KindSoftLockup, `^watchdog: BUG: soft lockup - CPU#\d+ stuck for \d+s!`, "BUG: soft lockup in spin_for"}}},
	{"hung.log", [][3]string{{KindHungTask, `^INFO: task \S+ blocked for more than \d+ seconds\.`, "INFO: task hung in trigger_init"}}},
	{"panic.log", [][3]string{{KindPanic, `^Kernel panic - not syncing: splat_trigger: panic on request`, "kernel panic: splat_trigger: panic on request"}}},
}

func TestRealLogs(t *testing.T) {
	for _, c := range realLogs {
		t.Run(c.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := Scan(f)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, g := range got {
				kinds = append(kinds, g.Kind+": "+g.Title+" | "+g.Header)
			}
			if len(got) < len(c.want) || (len(c.want) == 0 && len(got) > 0) {
				t.Fatalf("found %d, want %d:\n%s", len(got), len(c.want), strings.Join(kinds, "\n"))
			}
			for i, w := range c.want {
				g := got[i]
				if g.Kind != w[0] || !regexp.MustCompile(w[1]).MatchString(g.Header) || g.Title != w[2] {
					t.Errorf("finding %d: %s: %q (%q), want %s: %q (/%s/)", i, g.Kind, g.Title, g.Header, w[0], w[2], w[1])
				}
				if len(g.Lines) < 3 || !strings.Contains(strings.Join(g.Lines, "\n"), g.Header) {
					t.Errorf("finding %d quotes too little: %q", i, g.Lines)
				}
				if len(g.Lines) > MaxLines+1 {
					t.Errorf("finding %d quotes %d lines", i, len(g.Lines))
				}
			}
			// Secondary findings are allowed only for the reports a
			// trigger causes as a side effect.
			for _, g := range got[len(c.want):] {
				t.Logf("also found: %s: %s", g.Kind, g.Title)
			}
		})
	}
}

func TestSyntheticCases(t *testing.T) {
	log := strings.Join([]string{
		"[    1.000000] ------------[ cut here ]------------",
		"[    1.000001] kernel BUG at mm/x.c:10!",
		"[    1.000002] Oops: invalid opcode: 0000 [#1] PREEMPT SMP",
		"[    1.000003] CPU: 0 UID: 0 PID: 1 Comm: init",
		"[    1.000004] ---[ end trace 0000000000000000 ]---",
		"ok 1 something[    2.000000] WARNING: CPU: 1 PID: 5 at kernel/y.c:3 f+0x1/0x2",
		"[    2.000001] Modules linked in:",
		"[    2.000002] ---[ end trace 0000000000000000 ]---",
		"[    3.000000] rcu: INFO: rcu_sched self-detected stall on CPU",
		"[    3.000001]  </TASK>",
		"[   24.000000] rcu: INFO: rcu_sched self-detected stall on CPU",
		"[   24.000001]  </TASK>",
		"UBSAN: shift-out-of-bounds in lib/z.c:4:5",
		"---[ end trace 0000000000000000 ]---",
	}, "\n")
	got, _ := Scan(strings.NewReader(log))
	if len(got) != 4 {
		for _, g := range got {
			t.Logf("%s: %s", g.Kind, g.Title)
		}
		t.Fatalf("found %d, want 4 (BUG with its Oops, WARNING, one stall seen twice, UBSAN)", len(got))
	}
	if got[0].Kind != KindBug || len(got[0].Lines) != 5 || got[0].Lines[0] != "[    1.000000] ------------[ cut here ]------------" {
		t.Errorf("bug: %+v", got[0])
	}
	if got[1].Kind != KindWarning || got[1].Line != 7 || got[1].Header != "WARNING: CPU: 1 PID: 5 at kernel/y.c:3 f+0x1/0x2" || got[1].Title != "WARNING in f" {
		t.Errorf("warning glued to a KTAP line: %+v", got[1])
	}
	if got[2].Kind != KindRCUStall || got[2].Count != 2 {
		t.Errorf("stall: %+v", got[2])
	}
	if got[3].Kind != KindUBSAN {
		t.Errorf("ubsan: %+v", got[3])
	}
}

func TestBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("BUG: KASAN: slab-out-of-bounds in f+0x1/0x2\n")
	for i := 0; i < 1000; i++ {
		b.WriteString("junk line\n")
	}
	got, _ := Scan(strings.NewReader(b.String()))
	if len(got) != 1 || got[0].Kind != KindKASAN || len(got[0].Lines) != MaxLines {
		t.Fatalf("%d findings, %d lines", len(got), len(got[0].Lines))
	}
}
