package splat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// familyLogs are console logs of the report families that no guest
// here gave a real log of, one report (the root one) per log:
// testdata/docs holds the reports the kernel's own documentation shows,
// and testdata/families would hold logs WRITTEN for these tests in the
// exact formats the kernel prints (see testdata/README.md); the last
// of those, a "can't die" hung task, was replaced by guest/cant-die.log.
// Every family a guest can print has a real log in guestLogs instead,
// and the older forms are in formLogs.
var familyLogs = []struct {
	file, kind, title string
	count             int // 0 means 1
}{
	{"docs/kasan-doc-oob.log", KindKASAN, "KASAN: slab-out-of-bounds Write in kmalloc_oob_right", 0},
	{"docs/kcsan-doc-race.log", KindKASAN, "KCSAN: data-race in test_kernel_read / test_kernel_write", 0},
	{"docs/kcsan-doc-unknown-origin.log", KindKASAN, "KCSAN: data-race in test_kernel_rmw_array", 0},
	{"docs/kfence-doc-corruption.log", KindKASAN, "KFENCE: memory corruption in test_kmalloc_aligned_oob_write", 0},
	{"docs/kfence-doc-invalid-free.log", KindKASAN, "KFENCE: invalid free in test_double_free", 0},
	{"docs/kfence-doc-invalid-read.log", KindKASAN, "KFENCE: invalid read in test_invalid_access", 0},
	{"docs/kfence-doc-oob.log", KindKASAN, "KFENCE: out-of-bounds read in test_out_of_bounds_read", 0},
	{"docs/kfence-doc-uaf.log", KindKASAN, "KFENCE: use-after-free read in test_use_after_free_read", 0},
	{"docs/kmemleak-doc.log", KindMemLeak, "memory leak in do_one_initcall", 0},
	{"docs/ubsan-doc-shift.log", KindUBSAN, "UBSAN: Undefined behaviour in _mix_pool_bytes", 0},
	// the 4.x x86 Oops with its IP: [<...>] line, as the kernel's
	// admin-guide/bug-hunting.rst quotes it (the one real log of that
	// form reachable here; its "..." line left out)
	{"docs/bug-hunting-null-ip.log", KindBug, "BUG: kernel NULL pointer dereference in iret_exc", 0},
}

// TestFamilies checks each log gives exactly one finding, its root
// report, with the expected kind and title: the panic that follows an
// Oops, a double fault or a WARNING with panic_on_warn is folded into
// it, not listed.
func TestFamilies(t *testing.T) {
	files, _ := filepath.Glob("testdata/families/*.log")
	docs, _ := filepath.Glob("testdata/docs/*.log")
	if len(files)+len(docs) != len(familyLogs) {
		t.Errorf("%d logs in testdata, %d in the table", len(files)+len(docs), len(familyLogs))
	}
	for _, c := range familyLogs {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			got := ScanBytes(b)
			var desc []string
			for _, g := range got {
				desc = append(desc, g.Kind+": "+g.Title+" | "+g.Header)
			}
			if len(got) != 1 {
				t.Fatalf("%d findings, want 1:\n%s", len(got), strings.Join(desc, "\n"))
			}
			g := got[0]
			if g.Kind != c.kind || g.Title != c.title {
				t.Errorf("got %s: %q, want %s: %q", g.Kind, g.Title, c.kind, c.title)
			}
			want := c.count
			if want == 0 {
				want = 1
			}
			if g.Count != want {
				t.Errorf("count %d, want %d", g.Count, want)
			}
			if !strings.Contains(strings.Join(g.Lines, "\n"), g.Header) || len(g.Lines) > MaxLines {
				t.Errorf("quoted lines do not hold the header or are too many (%d)", len(g.Lines))
			}
		})
	}
}

// guestLogs are real consoles of this project's kernel (KASAN and
// lockdep on) with the trigger module; their titles were written down
// before the scanner first read them. A report may cause others after
// it (scheduling while atomic leaves a preemption imbalance that
// do_one_initcall WARNs about): only the first finding is checked.
var guestLogs = []logCase{
	{"guest/bad-unlock.log", KindLockdep, "bad unlock balance in unbalanced_unlock"},
	{"guest/divide.log", KindOops, "divide error in trigger_init"},
	{"guest/double-free.log", KindKASAN, "KASAN: double-free in trigger_init"},
	{"guest/held-freed.log", KindLockdep, "held lock freed in trigger_init"},
	{"guest/inconsistent.log", KindLockdep, "inconsistent lock state in soft_timer_fn"},
	{"guest/kasan-oob.log", KindKASAN, "KASAN: slab-out-of-bounds Write in trigger_init"},
	{"guest/kasan-uaf.log", KindKASAN, "KASAN: slab-use-after-free Read in trigger_init"},
	{"guest/lock-return.log", KindLockdep, "lock held when returning to user space in keep_locked"},
	{"guest/non-static.log", KindLockdep, "trying to register non-static key in trigger_init"},
	{"guest/recursive.log", KindLockdep, "possible deadlock in trigger_init"},
	{"guest/sched-atomic.log", KindAtomicSleep, "BUG: scheduling while atomic in trigger_init"},
	{"guest/still-held.log", KindLockdep, "still has locks held in exit_locked"},
	// The loading task asleep in D state and killed (trigger cant-die);
	// the "can't die" line is the module's own detector's, in the form
	// of syzbot's hung_task debugging patch, the stack the task's own.
	{"guest/cant-die.log", KindHungTask, "INFO: task can't die in sleep_unkillable"},
	// The debug kernel (debugConfig in internal/boot: kmemleak, list
	// debugging, UBSAN, hardened usercopy, stack protector, buddy hard
	// lockup detector, printk caller ids) with the same module.
	{"guest/kmemleak.log", KindMemLeak, "memory leak in leak_buffer"},
	{"guest/kmemleak-user.log", KindMemLeak, "memory leak in leak_buffer"},
	{"guest/kmemleak-stamp.log", KindMemLeak, "memory leak in leak_buffer"},
	{"guest/list-del.log", KindBug, "BUG: list corruption in delete_twice"},
	{"guest/ubsan-shift.log", KindUBSAN, "UBSAN: shift-out-of-bounds in shift_too_far"},
	{"guest/ubsan-bounds.log", KindUBSAN, "UBSAN: array-index-out-of-bounds in index_too_far"},
	{"guest/usercopy.log", KindBug, "BUG: bad usercopy in copy_too_much"},
	{"guest/stack-protector.log", KindPanic, "kernel panic: stack is corrupted in smash_stack"},
	{"guest/double-fault.log", KindOops, "PANIC: double fault in fault_twice"},
	{"guest/vfs-busy.log", KindRefLeak, "VFS: Busy inodes after unmount of ramfs"},
	{"guest/hard-lockup.log", KindHardLockup, "hard lockup in spin_for"},
	// gcc's IPA-SRA moved the load of c->pad[5] out of
	// read_through_null into its caller: RIP is trigger_init.
	{"guest/gpf-kasan.log", KindGPF, "general protection fault in trigger_init"},
	{"guest/refcount.log", KindWarning, "refcount bug in get_dead_ref"},
	{"guest/warn-panic.log", KindWarning, "WARNING in trigger_init"},
	// rdinit= names no file and the kernel has no block layer to
	// look for a root on: "No working init found", not "VFS: Unable
	// to mount root fs".
	{"guest/panic-root.log", KindPanic, "kernel panic: No working init found. Try passing init= option to kernel. See Linux Documentation/admin-guide/init.rst for guidance."},
	{"guest/hung-caller.log", KindHungTask, "INFO: task hung in trigger_init"},
	{"guest/hung-login.log", KindHungTask, "INFO: task hung in trigger_init"},
	// The data kernel (variantConfigs in internal/boot: the debug kernel
	// with KCSAN instead of KASAN, CONFIG_BUG_ON_DATA_CORRUPTION, a block
	// layer with ext2, networking), Debian's 6.12.118, the same module.
	{"guest/list-corruption-bug.log", KindBug, "BUG: list corruption in delete_twice"},
	{"guest/panic-vfs.log", KindPanic, "kernel panic: VFS: Unable to mount root fs on unknown-block(0,0)"},
	{"guest/netdev-wait.log", KindRefLeak, "unregister_netdevice: waiting for DEV to become free"},
	{"guest/kcsan.log", KindKASAN, "KCSAN: data-race in racy_add_b / racy_inc_a"},
	// An arm64 tinyconfig kernel of Debian's 6.12.118 (arm64Config in
	// internal/boot) in qemu-system-aarch64, the same module.
	{"guest-arm64/bug.log", KindBug, "kernel BUG in trigger_init"},
	{"guest-arm64/null.log", KindBug, "BUG: kernel NULL pointer dereference in trigger_init"},
	{"guest-arm64/gpf.log", KindBug, "BUG: unable to handle kernel paging request in trigger_init"},
	{"guest-arm64/rcu-stall.log", KindRCUStall, "INFO: rcu detected stall in spin_for"},
	{"guest-arm64/warn.log", KindWarning, "WARNING in trigger_init"},
	{"guest-arm64/lockup.log", KindSoftLockup, "BUG: soft lockup in spin_for"},
	// a read of an address nothing decodes (trigger bus): arm64 dies
	// with "Internal error: synchronous external abort"
	{"guest-arm64/bus.log", KindOops, "Internal error: synchronous external abort in read_undecoded"},
	// A riscv64 tinyconfig kernel of Debian's 6.12.118 (riscvConfig in
	// internal/boot) in qemu-system-riscv64, the same module.
	// Written down as a NULL dereference; riscv names a kernel access
	// to user memory first (address 0 is a user address), and says so.
	{"guest-riscv/null.log", KindBug, "BUG: unable to handle kernel access to user memory in trigger_init"},
	{"guest-riscv/bug.log", KindBug, "kernel BUG in trigger_init"},
	{"guest-riscv/warn.log", KindWarning, "WARNING in trigger_init"},
	// A 32-bit ARM (ARMv7, ARM mode, VFP) tinyconfig kernel of Debian's
	// 6.12.118 (armConfig in internal/boot) in qemu-system-arm's virt
	// machine, the same module. Written down as a NULL dereference;
	// with software PAN (CPU_SW_DOMAIN_PAN, on by default) the kernel
	// may not touch user space, address 0 among it, and reports a page
	// domain fault first, and says so.
	{"guest-arm/bug.log", KindBug, "kernel BUG in trigger_init"},
	{"guest-arm/null.log", KindOops, "Unhandled fault in trigger_init"},
	{"guest-arm/gpf.log", KindBug, "BUG: unable to handle kernel paging request in trigger_init"},
	{"guest-arm/bus.log", KindOops, "Unhandled fault in read_undecoded"},
	{"guest-arm/warn.log", KindWarning, "WARNING in trigger_init"},
	{"guest-arm/rcu-stall.log", KindRCUStall, "INFO: rcu detected stall in spin_for"},
	{"guest-arm/lockup.log", KindSoftLockup, "BUG: soft lockup in spin_for"},
	// A ppc64le tinyconfig kernel of Debian's 6.12.118 (powerpcConfig in
	// internal/boot) in qemu-system-ppc64's pseries machine (SLOF), the
	// same module.
	{"guest-powerpc/bug.log", KindBug, "kernel BUG in trigger_init"},
	{"guest-powerpc/null.log", KindBug, "BUG: kernel NULL pointer dereference in trigger_init"},
	{"guest-powerpc/gpf.log", KindBug, "BUG: unable to handle kernel paging request in trigger_init"},
	{"guest-powerpc/warn.log", KindWarning, "WARNING in trigger_init"},
	{"guest-powerpc/rcu-stall.log", KindRCUStall, "INFO: rcu detected stall in spin_for"},
	{"guest-powerpc/lockup.log", KindSoftLockup, "BUG: soft lockup in spin_for"},
	// Linux 6.1.192 with Rust support built by Debian 12's rustc 1.63
	// (rustConfig in internal/boot), trigger_rust.ko: the one-line panic
	// of rustc before 1.73; the module was built out of tree, so the
	// panic names an absolute path.
	{"guest-6.1/rust-panic.log", KindBug, "Rust panic at trigger_rust.rs:27"},
	// Debian's 6.12.118 with the same configuration built in a trixie
	// root by its rustc 1.85 (bindgen 0.71, libclang 19, gcc 14),
	// trigger_rust_612.rs: the two-line panic of rustc 1.73 on.
	{"guest-6.12-rust/rust-panic.log", KindBug, "Rust panic at trigger_rust.rs:26"},
	// Debian's 7.3.4 with the kcheck boot configuration, the same module.
	{"guest-7.3/warn.log", KindWarning, "WARNING in trigger_init"},
	{"guest-7.3/bug.log", KindBug, "kernel BUG in trigger_init"},
	// KASAN checks the shadow of address 0 first: a GPF, as on syzbot.
	{"guest-7.3/null.log", KindGPF, "general protection fault in trigger_init"},
	{"guest-7.3/lockdep.log", KindLockdep, "possible deadlock in take_ba"},
	{"guest-7.3/kasan-uaf.log", KindKASAN, "KASAN: slab-use-after-free Read in trigger_init"},
	{"guest-7.3/double-free.log", KindKASAN, "KASAN: double-free in trigger_init"},
	{"guest-7.3/divide.log", KindOops, "divide error in trigger_init"},
	{"guest-7.3/hung.log", KindHungTask, "INFO: task hung in trigger_init"},
	{"guest-7.3/hung-io.log", KindHungTask, "INFO: task hung in trigger_init"},
	{"guest-7.3/rcu-stall.log", KindRCUStall, "INFO: rcu detected stall in spin_for"},
	{"guest-7.3/lockup.log", KindSoftLockup, "BUG: soft lockup in spin_for"},
	{"guest-7.3/rcu-usage.log", KindLockdep, "suspicious RCU usage in trigger_init"},
	{"guest-7.3/atomic-sleep.log", KindAtomicSleep, "BUG: sleeping function called from invalid context in trigger_init"},
	{"guest-7.3/bad-unlock.log", KindLockdep, "bad unlock balance in unbalanced_unlock"},
	{"guest-7.3/inconsistent.log", KindLockdep, "inconsistent lock state in soft_timer_fn"},
}

// formLogs are WRITTEN logs (testdata/written-forms, see
// testdata/README.md) of the forms that no Debian kernel prints any
// more and of other architectures' and system logs' forms: bracketed
// lockdep headers, the x86 "IP:" line, "NMI watchdog:" soft lockups,
// riscv's sepc without a symbol, ARM behind journalctl's prefix and in
// a second Oops, lockdep behind rsyslog's prefix with "#012" escapes,
// the old busy-inodes line. They were written from the printk strings
// of the kernels of those years, with the quirks of the console copies
// that bug reports quote (lost prefixes, wrapped lines, unstamped
// continuation lines), and their titles written down before the
// scanner first read them.
var formLogs = []logCase{
	// the old form (no file system type in parentheses), twice, then
	// the NULL dereference of the unmount that the busy inodes caused
	{"written-forms/vfs-busy-old.log", KindRefLeak, "VFS: Busy inodes after unmount"},
	{"written-forms/bad-unlock-bracket.log", KindLockdep, "bad unlock balance in nlq_flush_backlog"},
	{"written-forms/lockdep-recursive-bracket.log", KindLockdep, "possible deadlock in htree_bucket_lock"},
	{"written-forms/lockdep-circular-rsyslog.log", KindLockdep, "possible deadlock in ext4_file_write_iter"},
	{"written-forms/rcu-usage-bracket.log", KindLockdep, "suspicious RCU usage in fdmon_scan_task"},
	{"written-forms/x86-null-ip.log", KindBug, "BUG: kernel NULL pointer dereference in vxq_rx_deliver"},
	// RIP is in the spin lock, which a lockup title skips (the caller
	// spins, not the lock): the first frame of the trace is named
	{"written-forms/nmi-soft-lockup.log", KindSoftLockup, "BUG: soft lockup in fq2_flow_gc"},
	// powerpc: NIP names the function
	{"written-forms/ppc-nmi-soft-lockup.log", KindSoftLockup, "BUG: soft lockup in pnv_occ_poll_sensor"},
	{"written-forms/arm-null-journal.log", KindBug, "BUG: kernel NULL pointer dereference in ads1x_fifo_read"},
	{"written-forms/arm-null-second-oops.log", KindBug, "BUG: kernel NULL pointer dereference in ledtrig_netdev_show"},
	// riscv before 5.2 printed sepc without a symbol and no trace
	{"written-forms/riscv-null-sepc.log", KindBug, "BUG: kernel NULL pointer dereference"},
}

func TestFormLogs(t *testing.T) {
	checkLogs(t, []string{"written-forms"}, formLogs, oneFinding("written-forms/vfs-busy-old.log"))
}

func TestGuestLogs(t *testing.T) {
	checkLogs(t, []string{"guest", "guest-7.3", "guest-arm64", "guest-riscv", "guest-arm", "guest-powerpc", "guest-6.1", "guest-6.12-rust"}, guestLogs, func(t *testing.T, file string, got []Finding) {
		if !strings.Contains(strings.Join(got[0].Lines, "\n"), got[0].Header) {
			t.Errorf("%s: the quoted lines lack the header", file)
		}
	})
}
