package splat

import "regexp"

// Kinds of findings.
const (
	KindWarning     = "warning"      // WARNING: CPU: n PID: n at ... / WARNING: file:n at ..., CPU#n:
	KindBug         = "bug"          // BUG: ..., kernel BUG at ..., bad page faults
	KindOops        = "oops"         // Oops / Internal error / divide error / double fault
	KindGPF         = "gpf"          // general protection fault
	KindLockdep     = "lockdep"      // lockdep and RCU-lockdep reports
	KindKASAN       = "kasan"        // BUG: KASAN / KFENCE / KMSAN / KCSAN
	KindUBSAN       = "ubsan"        // UBSAN: ...
	KindRCUStall    = "rcu-stall"    // rcu: INFO: ... detected stalls
	KindSoftLockup  = "soft-lockup"  // watchdog: BUG: soft lockup
	KindHardLockup  = "hard-lockup"  // Watchdog detected hard LOCKUP
	KindHungTask    = "hung-task"    // INFO: task ... blocked for more than
	KindPanic       = "panic"        // Kernel panic - not syncing
	KindAtomicSleep = "atomic-sleep" // sleeping function called from invalid context
	KindMemLeak     = "memory-leak"  // kmemleak: unreferenced object
	KindRefLeak     = "ref-leak"     // unregister_netdevice waiting, VFS busy inodes
)

// Pattern is one catalogue entry: which console line opens a report,
// what kind it is, where it ends and how its title is made.
type Pattern struct {
	// Name identifies the entry (Absorbs refers to it).
	Name string
	Kind string
	// Key is a literal every header of this entry contains; the
	// scanner looks for it anywhere in a line (a report may start
	// after other text) and matches Start from there.
	Key string
	// Start matches the header from Key on. Its submatches feed Title.
	Start *regexp.Regexp
	// Framed entries only count when the line before is a row of
	// '=' (the frame lockdep, RCU, KASAN and KCSAN print).
	Framed bool
	// End, when set, matches the last line of the report (inclusive).
	// Without it the report ends after its first complete stack trace.
	End *regexp.Regexp
	// NeedPC: the stack trace that ends the report is the one after a
	// register dump (stall reports first dump other tasks).
	NeedPC bool
	// Max bounds the quoted lines of this entry (0: MaxLines).
	Max int
	// Absorbs lists entries whose headers belong to this report when
	// they appear while it is open (the Oops line after a BUG line).
	Absorbs []string
	// After marks a consequence of an earlier report (the "Fatal
	// exception" panic after an Oops): when the log already has a
	// report, this one is folded into it instead of being listed.
	After bool
	// Repeats: the kernel prints this report again and again for one
	// problem; equal headers are folded into one finding with a Count.
	Repeats bool
	// Title is the title format: $1..$9 are Start's submatches, {func}
	// the guilty function, {access} Read or Write (KASAN). " in {func}"
	// is dropped when no function is found.
	Title string
	// Func lists where the guilty function is looked for, in order:
	// "header" (Start's submatch named func), "at" (the frame after a
	// lockdep "is trying to acquire" line), "pc" (the faulting
	// instruction), "stack" (the first stack frame), "stall" (the
	// stack of the interrupted task).
	Func []string
	// Skip lists more function name prefixes that are reporting
	// machinery for this entry (see machinery for the common ones).
	Skip []string
}

var (
	endTrace  = regexp.MustCompile(`^---\[ end trace( [0-9a-f]+)? \]---`)
	endFrame  = regexp.MustCompile(`^={20,}\s*$`)
	endAlways = regexp.MustCompile(``)
)

func rx(s string) *regexp.Regexp { return regexp.MustCompile(s) }

var (
	oopsLines  = []string{"oops", "x86-trap", "internal-error", "riscv-bug"}
	bugAbsorbs = append([]string{"kernel-bug", "warning"}, oopsLines...)
	pcStack    = []string{"pc", "stack"}
	lockdepAt  = []string{"at", "stack"}
	allocSkip  = []string{"kmalloc", "__kmalloc", "kzalloc", "kcalloc", "kmem_cache_", "kmemleak", "create_object", "__create_object", "slab_", "__slab", "___slab", "alloc_", "__alloc", "kvmalloc", "__kvmalloc", "vmalloc", "__vmalloc", "kmalloc_trace", "kstrdup", "kmemdup", "kvasprintf", "kasprintf", "krealloc", "__do_kmalloc", "pcpu_alloc", "__get_free_pages", "memdup"}
	lockSkip   = []string{"mutex_lock", "mutex_unlock", "mutex_trylock", "__mutex", "_raw_", "__raw_", "=down", "down_read", "down_write", "down_interruptible", "down_killable", "down_trylock", "=up", "up_read", "up_write", "rt_mutex", "rwsem_", "__rwsem", "spin_lock", "spin_unlock", "read_lock", "read_unlock", "write_lock", "write_unlock", "__lock_", "lock_acquire", "lock_release", "lock_acquired", "lock_contended", "register_lock_class", "do_raw_", "queued_", "__might", "__rcu_read", "rcu_read_lock", "rcu_read_unlock"}
	stallSkip  = []string{"ktime_", "seqcount", "read_seqcount", "__seqcount", "read_tsc", "__delay", "delay_", "udelay", "__const_udelay", "mdelay", "cpu_relax", "rep_nop", "native_", "arch_", "__x86_", "default_idle", "do_idle", "cpuidle", "sysvec_", "asm_sysvec_", "irq", "__irq", "_raw_", "__raw_", "queued_spin", "__pv_queued", "do_raw_", "spin_lock", "spin_unlock", "rcu_", "__rcu", "hrtimer", "__hrtimer", "tick_", "update_process_times", "watchdog", "timekeeping", "clocksource", "ret_from_fork", "kthread", "smpboot", "handle_softirqs", "__do_softirq", "do_softirq", "__softirqentry"}
	hungSkip   = []string{"__schedule", "schedule", "io_schedule", "preempt_schedule", "context_switch", "__switch_to", "wait_", "__wait", "do_wait", "msleep", "_schedule", "kthread", "ret_from_fork", "synchronize", "__synchronize", "cancel_", "__cancel", "flush_", "__flush", "rwsem_down", "mutex_lock", "__mutex", "=down", "down_", "rt_mutex", "__rt_mutex", "completion", "__completion", "folio_wait", "__folio_lock", "bit_wait", "out_of_line_wait"}
)

// Catalogue is ordered: the first entry whose Start matches a line
// wins, so specific entries come before general ones.
var Catalogue = []Pattern{
	// Panics. The ones that only follow another report come first.
	{Name: "panic-after", Kind: KindPanic, Key: "Kernel panic - not syncing: ",
		Start: rx(`^Kernel panic - not syncing: (?:\w+: )?(Fatal exception(?: in interrupt)?|Machine halted\.?|panic_on_warn set|panic_on_oops|softlockup: hung tasks|hung_task: blocked tasks|Hard LOCKUP|hardlockup: .*|RCU Stall|Aiee, killing interrupt handler!|Attempted to kill the idle task!|Attempted to kill init!.*|Oops - BUG: Fatal exception|.*panic_on_warn set.*)`),
		End:   rx(`^---\[ end Kernel panic`), After: true, Title: "kernel panic: $1"},
	{Name: "panic-stackprotector", Kind: KindPanic, Key: "Kernel panic - not syncing: ",
		Start: rx(`^Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: (?P<func>[\w.$]+)`),
		End:   rx(`^---\[ end Kernel panic`), Title: "kernel panic: stack is corrupted in {func}", Func: []string{"header", "stack"}, Skip: []string{"__stack_chk"}},
	{Name: "panic", Kind: KindPanic, Key: "Kernel panic - not syncing: ",
		Start: rx(`^Kernel panic - not syncing: (.*?)\s*$`), End: rx(`^---\[ end Kernel panic`), Title: "kernel panic: $1"},

	// Sanitizers.
	{Name: "kasan", Kind: KindKASAN, Key: "BUG: KASAN: ",
		Start: rx(`^BUG: KASAN: ([\w-]+?)(?: or invalid-free)? in (?P<func>[\w.$]+)`), End: endFrame,
		Title: "KASAN: $1 {access} in {func}", Func: []string{"header", "stack"}, Skip: []string{"kfree", "__kfree", "kmem_cache_free", "slab_free", "__slab_free", "do_slab_free", "vfree", "__vfree", "memcpy", "__memcpy", "memset", "__memset", "memmove", "__memmove", "strlen", "strcpy", "strncpy", "strcmp", "strscpy", "copy_to_user", "copy_from_user", "_copy_"}},
	{Name: "kasan-other", Kind: KindKASAN, Key: "BUG: KASAN: ",
		Start: rx(`^BUG: KASAN: ([\w-]+)`), End: endFrame, Title: "KASAN: $1 {access} in {func}", Func: pcStack},
	{Name: "kcsan", Kind: KindKASAN, Key: "BUG: KCSAN: ",
		// %ps of a module's function adds " [module]" after the name.
		Start: rx(`^BUG: KCSAN: ([\w-]+) in ([\w.$]+?)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?(?: \[[\w-]+\])?(?: / ([\w.$]+?)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?(?: \[[\w-]+\])?)?\s*$`),
		End:   endFrame, Title: "KCSAN: $1 in $2{ / $3}"},
	{Name: "kfence-kmsan", Kind: KindKASAN, Key: "BUG: KFENCE: |BUG: KMSAN: ",
		Start: rx(`^BUG: (KFENCE|KMSAN): ([\w -]+?) in (?P<func>[\w.$]+)`), End: endFrame,
		Title: "$1: $2 in {func}", Func: []string{"header", "stack"}},
	{Name: "kfence-kmsan-other", Kind: KindKASAN, Key: "BUG: KFENCE: |BUG: KMSAN: ",
		Start: rx(`^BUG: (KFENCE|KMSAN): ([\w -]+)`), End: endFrame, Title: "$1: $2 in {func}", Func: pcStack},
	{Name: "ubsan", Kind: KindUBSAN, Key: "UBSAN: ",
		Start: rx(`^UBSAN: (Undefined behaviour|[\w-]+) in `), End: rx(`^(---\[ end trace( [0-9a-f]+)? \]---|={20,}\s*$)`),
		Title: "UBSAN: $1 in {func}", Func: []string{"stack"}, Skip: []string{"ubsan_", "__ubsan", "handle_overflow", "__ubsan_handle"}},

	// Stalls, lockups, hung tasks.
	{Name: "soft-lockup", Kind: KindSoftLockup, Key: "BUG: soft lockup",
		Start: rx(`^BUG: soft lockup - CPU#\d+ stuck for`), NeedPC: true, Repeats: true,
		Title: "BUG: soft lockup in {func}", Func: []string{"stall"}, Skip: stallSkip},
	{Name: "hard-lockup", Kind: KindHardLockup, Key: "Watchdog detected hard LOCKUP",
		Start: rx(`^Watchdog detected hard LOCKUP`), NeedPC: true, Repeats: true,
		Title: "hard lockup in {func}", Func: []string{"stall"}, Skip: stallSkip},
	{Name: "rcu-stall", Kind: KindRCUStall, Key: "INFO: rcu_",
		Start: rx(`^INFO: rcu_\w+ (?:self-)?detected (?:expedited )?stalls?`), NeedPC: true, Repeats: true,
		Title: "INFO: rcu detected stall in {func}", Func: []string{"stall"}, Skip: stallSkip},
	{Name: "hung-task", Kind: KindHungTask, Key: "INFO: task ",
		Start: rx(`^INFO: task .*:\d+ (blocked for|can't die for|blocked in I/O wait for) more than \d+ seconds`), Repeats: true,
		Title: "INFO: task {hung} in {func}", Func: []string{"stack"}, Skip: hungSkip},

	// Sleeping in atomic context.
	{Name: "atomic-sleep", Kind: KindAtomicSleep, Key: "BUG: ",
		Start: rx(`^BUG: (sleeping function called from invalid context|scheduling while atomic|workqueue leaked (?:atomic, )?lock or (?:atomic|RCU)|workqueue leaked atomic, lock or RCU)`),
		Title: "BUG: $1 in {func}", Func: []string{"last-function", "stack"}, Skip: append([]string{"__might_resched", "__might_sleep", "___might_sleep", "might_sleep", "__might_fault", "might_fault", "__schedule_bug", "__schedule", "schedule", "preempt_schedule", "msleep", "usleep", "ssleep", "process_one_work", "worker_thread"}, allocSkip...)},
	{Name: "preemptible", Kind: KindBug, Key: "BUG: using ",
		Start: rx(`^BUG: using (smp_processor_id\(\)|__this_cpu_\w+\(\)|this_cpu_\w+\(\)) in preemptible`),
		Title: "BUG: using $1 in preemptible code in {func}", Func: []string{"stack"}, Skip: []string{"check_preemption_disabled", "debug_smp_processor_id", "__this_cpu_preempt_check", "__debug_smp"}},

	// Lockdep and RCU lockdep, old ("[ INFO: ... ]", "BUG:") and new
	// ("WARNING:") headers.
	{Name: "lockdep-deadlock", Kind: KindLockdep, Key: "WARNING: |INFO: |BUG: ",
		Start: rx(`^(?:WARNING|INFO|BUG): (?:possible (?:recursive|circular) locking|possible irq lock inversion|[\w-]+-safe -> [\w-]+-unsafe lock order detected)`),
		Title: "possible deadlock in {func}", Func: lockdepAt, Skip: lockSkip},
	{Name: "lockdep-inconsistent", Kind: KindLockdep, Key: "WARNING: |INFO: |BUG: ",
		Start: rx(`^(?:WARNING|INFO|BUG): inconsistent lock state`), Title: "inconsistent lock state in {func}", Func: lockdepAt, Skip: lockSkip},
	// Lockdep prints no stack for a lock held on return to user space:
	// the report is the held locks.
	{Name: "lockdep-user-return", Kind: KindLockdep, Key: "WARNING: |INFO: |BUG: ",
		Start: rx(`^(?:WARNING|INFO|BUG): (lock held when returning to user space)`),
		Max:   12, Title: "$1 in {func}", Func: lockdepAt, Skip: lockSkip},
	{Name: "lockdep-named", Kind: KindLockdep, Key: "WARNING: |INFO: |BUG: ",
		Start: rx(`^(?:WARNING|INFO|BUG): (bad unlock balance|held lock freed|lock held at task exit time|bad contention|Nested lock was not taken|Invalid wait context)`),
		Title: "$1 in {func}", Func: lockdepAt, Skip: lockSkip},
	{Name: "lockdep-still-held", Kind: KindLockdep, Key: "WARNING: |INFO: |BUG: ",
		Start: rx(`^(?:WARNING|INFO|BUG): .*\S still has locks held!`),
		Title: "still has locks held in {func}", Func: lockdepAt, Skip: lockSkip},
	{Name: "rcu-usage", Kind: KindLockdep, Key: "WARNING: |INFO: |BUG: ",
		Start: rx(`^(?:WARNING|INFO|BUG): suspicious RCU usage`), Title: "suspicious RCU usage in {func}", Func: []string{"stack"},
		Skip: append([]string{"lockdep_rcu_suspicious", "rcu_", "__rcu", "debug_lockdep_rcu"}, lockSkip...)},
	{Name: "lockdep-key", Kind: KindLockdep, Key: "INFO: trying to register non-static key",
		Start: rx(`^INFO: trying to register non-static key`), Title: "trying to register non-static key in {func}", Func: []string{"stack"},
		Skip: append([]string{"__wake_up", "wake_up", "register_lock_class", "__lock_acquire", "lock_acquire", "assign_lock_key", "look_up_lock_class", "lockdep_init_map"}, lockSkip...)},
	{Name: "lockdep-limits", Kind: KindLockdep, Key: "BUG: ",
		Start: rx(`^BUG: (MAX_\w+ too low!|key \S+ has not been registered!|looking up invalid subclass)`), Title: "BUG: $1"},
	{Name: "lockdep-framed", Kind: KindLockdep, Key: "WARNING: ", Framed: true,
		Start: rx(`^WARNING: (.*?)[.!]?\s*$`), Title: "WARNING: $1 in {func}", Func: []string{"stack"}, Skip: lockSkip},
	{Name: "lockdep-possible", Kind: KindLockdep, Key: "WARNING: possible ",
		Start: rx(`^WARNING: (possible [\w -]+?)[.!]?\s*$`), Title: "$1 in {func}", Func: lockdepAt, Skip: lockSkip},

	// Named data corruption reports: their message comes before the
	// BUG or WARNING it causes.
	{Name: "list-corruption", Kind: KindBug, Key: "list_|hlist_",
		Start: rx(`^(?:list_(?:add|del|replace|splice)|hlist_\w+) (?:corruption|double add)`), End: endTrace, Absorbs: bugAbsorbs,
		Title: "BUG: list corruption in {func}", Func: pcStack, Skip: []string{"__list_", "list_", "__hlist", "hlist_", "__list_add_valid", "__list_del_entry_valid"}},
	{Name: "usercopy", Kind: KindBug, Key: "usercopy: Kernel memory ",
		Start: rx(`^usercopy: Kernel memory (?:exposure|overwrite) attempt detected`), End: endTrace, Absorbs: bugAbsorbs,
		Title: "BUG: bad usercopy in {func}", Func: pcStack, Skip: []string{"usercopy_", "__check_object_size", "check_object_size", "__check_heap_object", "check_heap_object", "check_stack_object", "copy_to_user", "copy_from_user", "_copy_to_user", "_copy_from_user", "__copy_", "simple_read_from_buffer", "simple_write_to_buffer"}},
	{Name: "rust-panic", Kind: KindBug, Key: "panicked at ",
		// An absolute path (a module built out of tree) is the build
		// machine's: the title keeps its file name only.
		Start: rx(`^panicked at (?:'.*', )?(?:/(?:[\w.-]+/)+)?([\w./-]+\.rs):(\d+)(?::\d+)?`), End: endTrace, Absorbs: bugAbsorbs,
		Title: "Rust panic at $1:$2"},
	{Name: "vfs-busy", Kind: KindRefLeak, Key: "VFS: Busy inodes after unmount",
		Start: rx(`^VFS: Busy inodes after unmount(?: of \S+? \(([\w.-]+)\))?`), End: endTrace, Max: 60, Absorbs: bugAbsorbs,
		Title: "VFS: Busy inodes after unmount{ of $1}"},
	{Name: "netdev-wait", Kind: KindRefLeak, Key: "unregister_netdevice: waiting for ",
		Start: rx(`^unregister_netdevice: waiting for \S+ to become free`), End: endAlways, Repeats: true,
		Title: "unregister_netdevice: waiting for DEV to become free"},
	{Name: "memory-leak", Kind: KindMemLeak, Key: "BUG: memory leak",
		Start: rx(`^BUG: memory leak`), Absorbs: []string{"kmemleak"}, Max: 40, Repeats: true,
		Title: "memory leak in {func}", Func: []string{"stack"}, Skip: allocSkip},
	{Name: "kmemleak", Kind: KindMemLeak, Key: "unreferenced object 0x",
		Start: rx(`^unreferenced object 0x[0-9a-f]+ \(size \d+\):`), Max: 40, Repeats: true,
		Title: "memory leak in {func}", Func: []string{"stack"}, Skip: allocSkip},

	// Faults. x86 prints a BUG line first, arm and riscv an "Unable to
	// handle" line; the Oops or Internal error line that follows
	// belongs to that report.
	{Name: "double-fault", Kind: KindOops, Key: "PANIC: double fault",
		Start: rx(`^PANIC: double fault`), End: endTrace, Absorbs: oopsLines,
		Title: "PANIC: double fault in {func}", Func: pcStack},
	{Name: "stack-guard", Kind: KindBug, Key: "BUG: ",
		Start: rx(`^BUG: (?:\w+ )?stack guard page was hit`), End: endTrace, Absorbs: oopsLines,
		Title: "BUG: stack guard page was hit in {func}", Func: pcStack},
	{Name: "null-deref", Kind: KindBug, Key: "BUG: |Unable to handle kernel NULL",
		Start: rx(`^(?:BUG: (?:unable to handle )?[Kk]ernel NULL pointer dereference|Unable to handle kernel NULL pointer dereference)`), End: endTrace, Absorbs: oopsLines,
		Title: "BUG: kernel NULL pointer dereference in {func}", Func: pcStack},
	// riscv: a kernel access to a user address (0 among them) outside
	// the uaccess routines, named so before a NULL or paging check.
	{Name: "user-access", Kind: KindBug, Key: "Unable to handle kernel access to user memory",
		Start: rx(`^Unable to handle kernel access to user memory`), End: endTrace, Absorbs: oopsLines,
		Title: "BUG: unable to handle kernel access to user memory in {func}", Func: pcStack},
	{Name: "paging", Kind: KindBug, Key: "BUG: |Unable to handle |unable to handle ",
		Start: rx(`^(?:BUG: )?[Uu]nable to handle (?:kernel paging request|page fault|kernel data access|kernel instruction fetch|kernel (?:read|write|execute) |kernel access)`), End: endTrace, Absorbs: oopsLines,
		Title: "BUG: unable to handle kernel paging request in {func}", Func: pcStack},
	{Name: "unhandled-fault", Kind: KindOops, Key: "Unhandled fault",
		Start: rx(`^Unhandled fault(?:: ([\w -]+?) \(0x[0-9a-f]+\))? at 0x`), End: endTrace, Absorbs: oopsLines,
		Title: "Unhandled fault in {func}", Func: pcStack},
	{Name: "gpf", Kind: KindGPF, Key: "general protection fault|Oops: general protection fault",
		Start: rx(`^(?:Oops: )?general protection fault`), End: endTrace, Absorbs: []string{"oops"},
		Title: "general protection fault in {func}", Func: pcStack},
	{Name: "x86-trap", Kind: KindOops, Key: "Oops: |divide error: |invalid opcode: |stack segment: |int3: |alignment check: |bounds: |invalid TSS: |segment not present: |coprocessor segment overrun: |double fault: |stack guard page: |kernel stack overflow|general protection: ",
		Start: rx(`^(?:Oops: )?(divide error|invalid opcode|stack segment|int3|alignment check|bounds|invalid TSS|segment not present|coprocessor segment overrun|double fault|stack guard page|kernel stack overflow[^:]*|general protection): [0-9a-f]{4} \[#\d+\]`),
		End:   endTrace, Absorbs: []string{"oops"}, Title: "$1 in {func}", Func: pcStack},
	{Name: "kernel-bug", Kind: KindBug, Key: "kernel BUG at |Kernel BUG at ",
		Start: rx(`^(?:kernel|Kernel) BUG at ([^\s:]+)`), End: endTrace, Absorbs: append([]string{"warning"}, oopsLines...),
		Title: "kernel BUG in {func}", Func: pcStack, Skip: []string{"BUG", "bug_handler", "rust_helper_BUG"}},
	{Name: "workqueue-lockup", Kind: KindBug, Key: "BUG: workqueue lockup",
		Start: rx(`^BUG: workqueue lockup`), End: endAlways, Repeats: true, Title: "BUG: workqueue lockup"},
	{Name: "bad-page", Kind: KindBug, Key: "BUG: Bad page ",
		Start: rx(`^BUG: Bad page (state|map|cache)`), End: endTrace, Max: 80, Title: "BUG: Bad page $1 in {func}", Func: []string{"stack"},
		Skip: append([]string{"bad_page", "free_", "__free", "free_pages", "release_pages", "put_page", "__put_page", "folio_", "__folio", "page_", "__page", "zap_", "unmap_", "print_bad_pte", "dump_page", "check_new_page", "check_free_page"}, allocSkip...)},
	{Name: "spinlock", Kind: KindBug, Key: "BUG: spinlock ",
		Start: rx(`^BUG: spinlock (lockup suspected|already unlocked|recursion|bad magic|wrong owner|wrong CPU)`), Title: "BUG: spinlock $1 in {func}", Func: []string{"stack"}, Skip: lockSkip},
	{Name: "slub", Kind: KindBug, Key: "BUG ",
		Start: rx(`^BUG ([\w.:-]+) \([^)]*\): ([^:(]+?)\s*(?:[:(].*)?$`), Framed: true, Title: "BUG: $2 in {func}", Func: []string{"stack"},
		Skip: append([]string{"print_trailer", "object_err", "slab_err", "check_", "free_debug_processing", "free_to_partial", "alloc_debug_processing", "__slab_free", "slab_free", "kfree", "kmem_cache_free"}, allocSkip...)},
	{Name: "bug", Kind: KindBug, Key: "BUG: ",
		Start: rx(`^BUG: ([^,:(\[]*[^,:(\[\s\d])`), End: endTrace, Absorbs: oopsLines,
		Title: "BUG: $1 in {func}", Func: pcStack},
	{Name: "internal-error", Kind: KindOops, Key: "Internal error: ",
		Start: rx(`^Internal error: ([^:\d]*?)\s*: [0-9a-f]+ \[#\d+\]`), End: endTrace,
		Title: "Internal error{: $1} in {func}", Func: pcStack},
	{Name: "oops", Kind: KindOops, Key: "Oops",
		Start: rx(`^Oops(?:: | - |\s)(?:([A-Za-z][\w -]*?)(?:,.*?)?: )?.*\[#\d+\]`), End: endTrace,
		Title: "Oops{: $1} in {func}", Func: pcStack},
	{Name: "riscv-bug", Kind: KindOops, Key: "Kernel BUG [#",
		Start: rx(`^Kernel BUG \[#\d+\]`), End: endTrace, Title: "kernel BUG in {func}", Func: pcStack},

	// Warnings: only the forms the kernel's WARN paths print. Other
	// "WARNING:" lines (user space, deprecation notices) are not
	// reports.
	{Name: "warning-list", Kind: KindWarning, Key: "WARNING: ",
		Start: rx(`^WARNING: (?:(?:CPU: \d+ PID: \d+ |)at \S*lib/list_debug\.c|\S*lib/list_debug\.c:\d+ at )`), End: endTrace,
		Title: "BUG: list corruption in {func}", Func: []string{"stack"}, Skip: []string{"__list_", "list_", "__hlist", "hlist_"}},
	{Name: "warning-refcount", Kind: KindWarning, Key: "WARNING: ",
		Start: rx(`^WARNING: (?:(?:CPU: \d+ PID: \d+ |)at \S*lib/refcount\.c|\S*lib/refcount\.c:\d+ at )`), End: endTrace,
		Title: "refcount bug in {func}", Func: []string{"stack"}, Skip: []string{"refcount_", "__refcount"}},
	{Name: "warning-usercopy", Kind: KindWarning, Key: "WARNING: ",
		Start: rx(`^WARNING: (?:(?:CPU: \d+ PID: \d+ |)at \S*mm/usercopy\.c|\S*mm/usercopy\.c:\d+ at )`), End: endTrace,
		Title: "BUG: bad usercopy in {func}", Func: []string{"stack"}, Skip: []string{"usercopy_", "__check_object_size", "check_object_size", "__check_heap_object", "check_heap_object"}},
	// Linux 6.19 on: "WARNING: FILE:LINE at FUNC+0x1/0x2 [mod], CPU#1: comm/pid"
	// (or "WARNING: at FUNC..., CPU#1: ..." without a file).
	{Name: "warning-cpu-last", Kind: KindWarning, Key: "WARNING: ",
		Start: rx(`^WARNING: (?:\S+:\d+ )?at (?:(?P<func>[A-Za-z_][\w.$]*)\+0x[0-9a-f]+/0x[0-9a-f]+|\S+)(?: \[[\w-]+\])?, CPU#\d+: `), End: endTrace,
		Title: "WARNING in {func}", Func: []string{"header", "pc", "stack"}},
	{Name: "warning", Kind: KindWarning, Key: "WARNING: ",
		Start: rx(`^WARNING: (?:CPU: \d+ PID: \d+ |)at \S+(?: (?P<func>[A-Za-z_][\w.$]*)\+0x)?`), End: endTrace,
		Title: "WARNING in {func}", Func: []string{"header", "pc", "stack"}},
	{Name: "warning-stack", Kind: KindWarning, Key: "WARNING: ",
		Start: rx(`^WARNING: (kernel stack (?:regs|frame pointer) at|stack (?:recursion|going in the wrong direction))`), End: endTrace,
		Title: "WARNING: $1"},
}
