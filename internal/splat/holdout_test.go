package splat

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// holdoutLogs were written after the catalogue, their expected kind
// and title fixed before the scanner first read them; the first run
// over them is the figure in testdata/README.md. They are part of the
// corpus since.
var holdoutLogs = []logCase{
	{"holdout/refcount-warn.log", KindWarning, "refcount bug in bpf_link_put_direct"},
	{"holdout/kasan-null-old.log", KindKASAN, "KASAN: null-ptr-deref Read in xfrm_policy_lookup_bytype"},
	{"holdout/lockdep-circular-old.log", KindLockdep, "possible deadlock in pipe_lock"},
	{"holdout/x86-rcu-nmi.log", KindRCUStall, "INFO: rcu detected stall in busy_loop_fn"},
	{"holdout/sleeping-old.log", KindAtomicSleep, "BUG: sleeping function called from invalid context in tcp_md5_do_add"},
	{"holdout/arm64-warn.log", KindWarning, "WARNING in drm_atomic_helper_wait_for_vblanks"},
	{"holdout/arm32-null-irq.log", KindBug, "BUG: kernel NULL pointer dereference in usb_hcd_giveback_urb"},
	{"holdout/x86-pagefault-memcpy.log", KindBug, "BUG: unable to handle kernel paging request in vendor_fw_dump_read"},
	{"holdout/ext4-bug-old.log", KindBug, "kernel BUG in ext4_writepages"},
	{"holdout/ubsan-framed.log", KindUBSAN, "UBSAN: array-index-out-of-bounds in rtw_phy_get_tx_power_index"},
	{"holdout/hung-mutex.log", KindHungTask, "INFO: task hung in reg_check_chans_work"},
	{"holdout/arm64-soft-lockup.log", KindSoftLockup, "BUG: soft lockup in mt76_poll_msec"},
	{"holdout/kmsan-uninit.log", KindKASAN, "KMSAN: uninit-value in tcp_recvmsg_locked"},
	{"holdout/kill-init.log", KindPanic, "kernel panic: Attempted to kill init! exitcode=0x0000000b"},
	{"holdout/gpf-old.log", KindGPF, "general protection fault in tcp_v4_rcv"},
	{"holdout/workqueue-lockup.log", KindBug, "BUG: workqueue lockup"},
	{"holdout/lockdep-might-fault.log", KindLockdep, "possible deadlock in filldir64"},
	{"holdout/bad-page-state.log", KindBug, "BUG: Bad page state in shrink_folio_list"},
}

func TestHoldout(t *testing.T) {
	checkLogs(t, []string{"holdout"}, holdoutLogs, oneFinding())
}

// oneFinding is a checkLogs check that a log holds one report, the
// root one; the files named may hold more (a report that causes
// others).
func oneFinding(more ...string) func(*testing.T, string, []Finding) {
	return func(t *testing.T, file string, got []Finding) {
		if len(got) > 1 && !slices.Contains(more, file) {
			t.Errorf("%s: %d findings, want 1", file, len(got))
		}
	}
}

// logCase is a log in testdata and the kind and title of its first
// finding.
type logCase struct{ file, kind, title string }

// checkLogs checks that testdata/dir has exactly the logs of table, and
// that each one's first finding has its kind and title; more checks
// whatever more the table's test asks of a log's findings.
func checkLogs(t *testing.T, dirs []string, table []logCase, more func(t *testing.T, file string, got []Finding)) {
	t.Helper()
	n := 0
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.log"))
		n += len(files)
	}
	if n != len(table) {
		t.Errorf("%d logs in testdata/%s, %d in the table", n, strings.Join(dirs, " and "), len(table))
	}
	for _, c := range table {
		b, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		got := ScanBytes(b)
		if len(got) == 0 {
			t.Errorf("%s: no finding", c.file)
			continue
		}
		if got[0].Kind != c.kind || got[0].Title != c.title {
			t.Errorf("%s: %s: %q, want %s: %q", c.file, got[0].Kind, got[0].Title, c.kind, c.title)
		}
		more(t, c.file, got)
	}
}
