package splat

import (
	"strings"
	"testing"
)

// TestIssueForms checks the header forms issue 16 lists, each alone in
// a log: the scanner must find one report of the right kind, however
// the line starts.
func TestIssueForms(t *testing.T) {
	cases := []struct{ log, kind, title string }{
		{"=============================================\n[ INFO: possible recursive locking detected ]\n4.9.0 #1 Not tainted\n", KindLockdep, "possible deadlock"},
		{"divide error: 0000 [#1] SMP KASAN\nRIP: 0010:foo+0x1/0x2\n", KindOops, "divide error in foo"},
		// Linux 6.19 on prints the CPU and task after the function.
		{"WARNING: drivers/gpu/drm/drm_vblank.c:1311 at drm_wait_one_vblank+0x2f1/0x3e0 [drm], CPU#3: kworker/3:1/112\n", KindWarning, "WARNING in drm_wait_one_vblank"},
		{"WARNING: at foo_bar+0x10/0x20, CPU#0: swapper/0/1\n", KindWarning, "WARNING in foo_bar"},
		{"WARNING: lib/list_debug.c:62 at __list_del_entry_valid_or_report+0xd2/0x100, CPU#0: init/1\nCall Trace:\n delete_it+0x10/0x20\n", KindWarning, "BUG: list corruption in delete_it"},
		{"WARNING: lib/refcount.c:25 at refcount_warn_saturate+0x9f/0x1c0, CPU#1: init/1\nCall Trace:\n put_it+0x10/0x20\n", KindWarning, "refcount bug in put_it"},
		{"BUG: bad unlock balance detected!\n", KindLockdep, "bad unlock balance"},
		{"BUG: held lock freed!\n", KindLockdep, "held lock freed"},
		{"BUG: lock held when returning to user space!\n", KindLockdep, "lock held when returning to user space"},
		{"BUG: syz-executor/123 still has locks held!\n", KindLockdep, "still has locks held"},
		{"INFO: trying to register non-static key.\n", KindLockdep, "trying to register non-static key"},
		{"INFO: suspicious RCU usage.\n", KindLockdep, "suspicious RCU usage"},
		{"BUG: memory leak\nunreferenced object 0xffff888 (size 32):\n  backtrace:\n    [<0000>] foo+0x1/0x2\n", KindMemLeak, "memory leak in foo"},
		{"unreferenced object 0xffff88810b2c (size 64):\n", KindMemLeak, "memory leak"},
		{"Unable to handle kernel paging request at virtual address dead000000000108\npc : foo+0x1/0x2\n", KindBug, "BUG: unable to handle kernel paging request in foo"},
		{"Internal error: Oops: 96000004 [#1] PREEMPT SMP\npc : foo+0x1/0x2\n", KindOops, "Internal error: Oops in foo"},
		{"Unhandled fault: imprecise external abort (0x1406) at 0xb6f0c000\nPC is at foo+0x1/0x2\n", KindOops, "Unhandled fault in foo"},
		{"[   44.38][    C4]  BUG: KCSAN: data-race in foo / bar\n", KindKASAN, "KCSAN: data-race in foo / bar"},
		// rustc before 1.73, a module built out of tree: its file name only
		{"trigger_rust: panicked at 'index out of bounds: the len is 2 but the index is 2', /build/x/kcheck-kinit/trigger_rust.rs:27:20\n", KindBug, "Rust panic at trigger_rust.rs:27"},
		{"rust_minimal: panicked at samples/rust/rust_minimal.rs:31:9:\n", KindBug, "Rust panic at samples/rust/rust_minimal.rs:31"},
		// riscv (guest-riscv/): a user address outside uaccess, and a BUG with its "Kernel BUG [#1]" line
		{"Unable to handle kernel access to user memory without uaccess routines at virtual address 0000000000000000\nOops [#1]\nepc : foo+0x1/0x2 [m]\n", KindBug, "BUG: unable to handle kernel access to user memory in foo"},
		{"kernel BUG at a.c:1!\nKernel BUG [#1]\nepc : foo+0x1/0x2 [m]\n", KindBug, "kernel BUG in foo"},
		// functions of a module: %ps adds " [module]" (guest/kcsan.log)
		{"BUG: KCSAN: data-race in racy_b [trigger] / racy_a [trigger]\n", KindKASAN, "KCSAN: data-race in racy_b / racy_a"},
		{"BUG: KCSAN: data-race in racy_a+0x11/0x2f [trigger]\n", KindKASAN, "KCSAN: data-race in racy_a"},
		{"PANIC: double fault, error_code: 0x0\nRIP: 0010:foo+0x1/0x2\nKernel panic - not syncing: Machine halted.\n", KindOops, "PANIC: double fault in foo"},
		{"unregister_netdevice: waiting for lo to become free. Usage count = 5\n", KindRefLeak, "unregister_netdevice: waiting for DEV to become free"},
		{"VFS: Busy inodes after unmount of sda1. Self-destruct in 5 seconds.  Have a nice day...\n", KindRefLeak, "VFS: Busy inodes after unmount"},
		{"INFO: task syz-executor:123 can't die for more than 143 seconds.\n", KindHungTask, "INFO: task can't die"},
		{"INFO: task jbd2/sda1-8:412 blocked in I/O wait for more than 120 seconds.\n", KindHungTask, "INFO: task hung"},
		{"NMI watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [kworker/1:2:3106]\n", KindSoftLockup, "BUG: soft lockup"},
		{"syzkaller login: [   16.30] INFO: task kworker/0:1:24 blocked for more than 10 seconds.\n", KindHungTask, "INFO: task hung"},
		{"2017/11/24 05:54:39 BUG: memory leak\n", KindMemLeak, "memory leak"},
		{"Oops: general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP\nRIP: 0010:foo+0x1/0x2\n---[ end trace 0000000000000000 ]---\nKernel panic - not syncing: Fatal exception\n", KindGPF, "general protection fault in foo"},
	}
	for _, c := range cases {
		got := ScanBytes([]byte(c.log))
		if len(got) != 1 || got[0].Kind != c.kind || got[0].Title != c.title {
			t.Errorf("%q: got %+v, want one %s: %q", c.log, got, c.kind, c.title)
			continue
		}
		// A consequence is quoted with its root report.
		if strings.Contains(c.log, "Kernel panic") && !strings.Contains(strings.Join(got[0].Lines, "\n"), "Kernel panic") {
			t.Errorf("%q: the panic is not quoted: %q", c.log, got[0].Lines)
		}
	}
}

func TestOopsTitles(t *testing.T) {
	for log, want := range map[string]string{
		"Internal error: : 1406 [#1] SMP ARM\nPC is at foo+0x1/0x2\n":           "Internal error in foo",
		"Internal error: Oops: 96000004 [#1] SMP\npc : foo+0x1/0x2\n":           "Internal error: Oops in foo",
		"Oops: 0000 [#1] SMP\nRIP: 0010:foo+0x1/0x2\n":                          "Oops in foo",
		"Oops: Kernel access of bad area, sig: 11 [#1]\nNIP [c0] foo+0x1/0x2\n": "Oops: Kernel access of bad area in foo",
	} {
		if got := ScanBytes([]byte(log)); len(got) != 1 || got[0].Title != want {
			t.Errorf("%q: %+v, want %q", log, got, want)
		}
	}
}
