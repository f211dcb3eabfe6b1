package splat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// familyLogs are console logs of every kind of report the catalogue
// knows, one report (the root one) per log. testdata/families holds
// logs in the exact formats the kernel prints (see testdata/README.md
// for where each comes from); testdata/docs holds the reports the
// kernel's own documentation shows.
var familyLogs = []struct {
	file, kind, title string
	count             int // 0 means 1
}{
	{"families/arm-unhandled-fault.log", KindOops, "Unhandled fault in sun4i_spdif_probe", 0},
	{"families/arm64-bug.log", KindBug, "kernel BUG in folio_unlock", 0},
	{"families/arm64-null.log", KindBug, "BUG: kernel NULL pointer dereference in of_device_get_match_data", 0},
	{"families/arm64-paging.log", KindBug, "BUG: unable to handle kernel paging request in nft_trans_destroy", 0},
	{"families/arm64-rcu-stall.log", KindRCUStall, "INFO: rcu detected stall in demo_ioctl_spin", 0},
	{"families/bad-unlock-old.log", KindLockdep, "bad unlock balance in pipe_unlock", 0},
	{"families/bad-unlock.log", KindLockdep, "bad unlock balance in unbalanced_unlock", 0},
	{"families/divide-error.log", KindOops, "divide error in snd_hrtimer_callback", 0},
	{"families/double-fault.log", KindOops, "PANIC: double fault in fib6_rule_lookup", 0},
	{"families/gpf-kasan.log", KindGPF, "general protection fault in nilfs_btree_get_nonroot_node", 0},
	{"families/hard-lockup.log", KindHardLockup, "hard lockup in ioat_timer_event", 0},
	{"families/held-lock-freed.log", KindLockdep, "held lock freed in sco_sock_timeout", 0},
	{"families/hung-caller-id.log", KindHungTask, "INFO: task hung in ext4_map_blocks", 0},
	{"families/hung-cant-die.log", KindHungTask, "INFO: task can't die in blkdev_reread_part", 0},
	{"families/hung-io-wait.log", KindHungTask, "INFO: task hung in jbd2_journal_commit_transaction", 0},
	{"families/inconsistent-lock.log", KindLockdep, "inconsistent lock state in demo_timer_fn", 0},
	{"families/kasan-double-free.log", KindKASAN, "KASAN: double-free in trigger_init", 0},
	{"families/kasan-uaf.log", KindKASAN, "KASAN: slab-use-after-free Read in hci_conn_drop", 0},
	{"families/kcsan-caller-id.log", KindKASAN, "KCSAN: data-race in tick_nohz_next_event / tick_nohz_stop_tick", 0},
	{"families/kmemleak-bug.log", KindMemLeak, "memory leak in nf_tables_newflowtable", 0},
	{"families/kmemleak-verbose.log", KindMemLeak, "memory leak in leak_setup", 0},
	{"families/list-corruption-bug.log", KindBug, "BUG: list corruption in nsim_dev_trap_report_work", 0},
	{"families/list-corruption-warn.log", KindBug, "BUG: list corruption in dm_table_add_target", 0},
	{"families/lock-user-return.log", KindLockdep, "lock held when returning to user space in keep_locked", 0},
	{"families/lockdep-old-recursive.log", KindLockdep, "possible deadlock in shmem_fallocate", 0},
	{"families/login-midline.log", KindHungTask, "INFO: task hung in rht_deferred_worker", 0},
	{"families/netdev-wait.log", KindRefLeak, "unregister_netdevice: waiting for DEV to become free", 4},
	{"families/nmi-soft-lockup.log", KindSoftLockup, "BUG: soft lockup in ata_scsi_queuecmd", 0},
	{"families/non-static-key.log", KindLockdep, "trying to register non-static key in hci_uart_tty_wakeup", 0},
	{"families/panic-vfs.log", KindPanic, "kernel panic: VFS: Unable to mount root fs on unknown-block(0,0)", 0},
	{"families/ppc-oops.log", KindBug, "BUG: kernel NULL pointer dereference in ibmvnic_probe", 0},
	{"families/rcu-usage-old.log", KindLockdep, "suspicious RCU usage in tun_net_xmit", 0},
	{"families/riscv-null.log", KindBug, "BUG: kernel NULL pointer dereference in virtnet_probe", 0},
	{"families/rust-panic.log", KindBug, "Rust panic at samples/rust/rust_minimal.rs:31", 0},
	{"families/sched-atomic.log", KindAtomicSleep, "BUG: scheduling while atomic in btusb_switch_alt_setting", 0},
	{"families/stack-protector.log", KindPanic, "kernel panic: stack is corrupted in sctp_getsockopt", 0},
	{"families/still-has-locks.log", KindLockdep, "still has locks held in ext4_writepages", 0},
	{"families/ubsan-shift.log", KindUBSAN, "UBSAN: shift-out-of-bounds in drm_dp_mst_allocate_vcpi", 0},
	{"families/usercopy.log", KindBug, "BUG: bad usercopy in demo_read", 0},
	{"families/userspace-stamp-leak.log", KindMemLeak, "memory leak in hci_alloc_dev", 0},
	{"families/vfs-busy-old.log", KindRefLeak, "VFS: Busy inodes after unmount", 0},
	{"families/vfs-busy.log", KindRefLeak, "VFS: Busy inodes after unmount of ext4", 0},
	{"families/warn-panic-on-warn.log", KindWarning, "WARNING in qdisc_watchdog_schedule_range_ns", 0},
	{"families/x86-old-null.log", KindBug, "BUG: kernel NULL pointer dereference in nfs4_do_reclaim", 0},
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
}

func TestGuestLogs(t *testing.T) {
	checkLogs(t, "guest", guestLogs, func(t *testing.T, file string, got []Finding) {
		if !strings.Contains(strings.Join(got[0].Lines, "\n"), got[0].Header) {
			t.Errorf("%s: the quoted lines lack the header", file)
		}
	})
}
