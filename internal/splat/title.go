package splat

import (
	"regexp"
	"strings"
)

// machinery are function name prefixes of the code that reports a
// problem rather than causes it: stack dumpers, WARN/BUG plumbing,
// trap and fault handlers, sanitizer and lockdep internals, string
// and copy helpers. A title never names them. An entry starting with
// "=" matches the whole name only.
var machinery = []string{
	"dump_stack", "dump_backtrace", "show_stack", "show_regs", "__show_regs", "show_trace", "show_fault_oops", "unwind_", "arch_stack_walk", "stack_trace_",
	"__warn", "warn_slowpath", "warn_", "report_bug", "handle_bug", "fixup_bug", "__report_bug", "bug_handler", "brk_handler", "call_break_hook",
	"exc_", "asm_exc_", "do_error_trap", "do_trap", "do_int3", "=die", "die_", "__die", "oops_", "do_undefinstr", "do_invalid_op",
	"panic", "nmi_panic", "vpanic", "__stack_chk_fail",
	"print_report", "print_address_description", "kasan_", "__kasan", "____kasan", "__asan_", "asan_", "kmsan_", "__msan_", "kcsan_", "__tsan_", "check_region_inline", "check_memory_region", "kfence_", "__kfence",
	"lockdep_", "lock_acquire", "lock_release", "__lock_acquire", "validate_chain", "check_noncircular", "check_deadlock", "check_prev_add", "check_prevs_add", "print_circular_bug", "print_usage_bug", "mark_lock", "debug_check_no_locks", "lock_is_held",
	"printk", "vprintk", "_printk", "console_", "__might_resched", "__might_sleep", "___might_sleep", "__might_fault", "might_fault",
	"ubsan_", "__ubsan",
	"page_fault_oops", "do_user_addr_fault", "kernelmode_fixup_or_oops", "__bad_area", "bad_area", "no_context", "do_page_fault", "handle_page_fault", "do_kernel_fault", "__do_kernel_fault", "do_translation_fault", "do_mem_abort", "do_DataAbort", "do_bad_area", "do_sea", "el1_", "el1h_", "do_debug_exception", "do_el1_", "__do_page_fault",
	"nmi_cpu_backtrace", "nmi_trigger_cpumask_backtrace", "arch_trigger_cpumask_backtrace", "rcu_dump_cpu_stacks", "print_cpu_stall", "check_cpu_stall", "sched_show_task", "show_state",
	"memcpy", "__memcpy", "memset", "__memset", "memmove", "__memmove", "memcmp", "__memcmp", "strcmp", "strncmp", "strcpy", "strncpy", "strscpy", "strlcpy", "strlen", "strnlen", "strchr", "strrchr", "strstr",
	"_copy_to_user", "_copy_from_user", "copy_to_user", "copy_from_user", "__copy_user", "copy_user_", "rep_movs", "__get_user", "__put_user", "get_user", "put_user", "_raw_copy",
	"__sanitizer", "__fortify", "fortify_", "__x86_indirect_thunk", "__x86_return_thunk",
}

func skipped(name string, extra []string) bool {
	for _, list := range [][]string{machinery, extra} {
		for _, e := range list {
			if e[0] == '=' {
				if name == e[1:] {
					return true
				}
			} else if strings.HasPrefix(name, e) {
				return true
			}
		}
	}
	return false
}

var (
	reFrameTok = regexp.MustCompile(`(?:^|[\s\](>:])(\?\s+)?([A-Za-z_][\w.$]*)\+0x[0-9a-f]+/0x[0-9a-f]+`)
	reArmFrame = regexp.MustCompile(`\] \(([A-Za-z_][\w.$]*)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?\) from \[`)
	reAccess   = regexp.MustCompile(`\b(Read|Write) of size \d+`)
	reLastFunc = regexp.MustCompile(`last function: ([A-Za-z_][\w.$]*)`)
	reAtAnchor = regexp.MustCompile(`(is trying to acquire|is trying to release lock|is trying to lock|just changed the state of lock|\] takes:|^\S.* takes:$|with a lock still held there|with locks still held|still has locks held|is trying to contend lock)`)
	reSection  = regexp.MustCompile(`^\s*(Allocated by|Freed by|The buggy address|Memory state|Last potentially|Second to last|irq event stamp|hardirqs last|softirqs last|---\[ end|</TASK>|Kernel panic)`)
	reOptional = regexp.MustCompile(`\{([^{}]*\$\d[^{}]*)\}`)
	reGroup    = regexp.MustCompile(`\$(\d)`)
)

// frameFunc returns the function of a stack frame line, or "" when the
// line has none. Frames the unwinder is not sure of ("? foo+0x1/0x2",
// "(unreliable)") count as frames but return "?".
func frameFunc(msg string) string {
	if strings.IndexByte(msg, '+') < 0 && !strings.Contains(msg, ") from [") {
		return ""
	}
	if m := reFrameTok.FindStringSubmatch(msg); m != nil {
		if m[1] != "" || strings.Contains(msg, "(unreliable)") {
			return "?"
		}
		return cleanFunc(m[2])
	}
	if m := reArmFrame.FindStringSubmatch(msg); m != nil {
		return cleanFunc(m[1])
	}
	return ""
}

// cleanFunc drops compiler suffixes: foo.isra.0, foo.cold, foo.constprop.0.
func cleanFunc(f string) string {
	if i := strings.IndexByte(f, '.'); i > 0 {
		f = f[:i]
	}
	return f
}

// guilty returns the function a report is about, looking in the places
// its entry lists.
func guilty(r *report) string {
	for _, src := range r.p.Func {
		var f string
		switch src {
		case "header":
			if i := r.p.Start.SubexpIndex("func"); i > 0 && i < len(r.sub) {
				f = cleanFunc(r.sub[i])
			}
		case "last-function":
			for _, m := range r.msgs {
				if s := reLastFunc.FindStringSubmatch(m); s != nil {
					f = cleanFunc(s[1])
					break
				}
			}
		case "at":
			f = r.atFunc()
		case "pc":
			f = r.pcFunc()
		case "stack":
			f = r.stackFunc(false)
		case "stall":
			f = r.stackFunc(true)
		}
		if f != "" && f != "?" && !skipped(f, r.p.Skip) {
			return f
		}
	}
	return ""
}

// atFunc is the function in the "at:" of the lock a lockdep report is
// about (the lock being taken, released, freed or still held).
func (r *report) atFunc() string {
	for i, m := range r.msgs {
		if !reAtAnchor.MatchString(m) {
			continue
		}
		// The first frame after the anchor is the lock's site; when
		// it is machinery (__might_fault), the stack says more.
		for j := i; j < len(r.msgs) && j <= i+4; j++ {
			if f := frameFunc(r.msgs[j]); f != "" && f != "?" {
				return f
			}
		}
		return ""
	}
	return ""
}

func (r *report) pcFunc() string {
	for _, m := range r.msgs {
		if isPC(m) {
			if f := frameFunc(m); f != "" && f != "?" {
				return f
			}
		}
	}
	return ""
}

// stackFunc returns the first frame of the report's first stack trace
// that is not machinery. With stall set, the trace is the one that
// follows the register dump of the interrupted task, whose PC counts as
// its first frame.
func (r *report) stackFunc(stall bool) string {
	start := -1
	for i, m := range r.msgs {
		if stall && isPC(m) {
			start = i
			break
		}
		if !stall && isTraceKey(m) {
			start = i + 1
			break
		}
	}
	if start < 0 {
		if stall {
			return r.stackFunc(false)
		}
		start = 1 // no trace keyword: any frame after the header
	}
	for _, m := range r.msgs[start:] {
		if reSection.MatchString(m) {
			break
		}
		if f := frameFunc(m); f != "" && f != "?" && !skipped(f, r.p.Skip) {
			return f
		}
	}
	return ""
}

// title renders the report's entry title.
func title(r *report) string {
	t := r.p.Title
	fn := guilty(r)
	if fn == "" {
		t = strings.Replace(t, " in {func}", "", 1)
	}
	t = strings.Replace(t, "{func}", fn, 1)
	access := ""
	if strings.Contains(t, "{access}") {
		for _, m := range r.msgs {
			if s := reAccess.FindStringSubmatch(m); s != nil {
				access = s[1]
				break
			}
		}
		if access == "" {
			t = strings.Replace(t, " {access}", "", 1)
		}
		t = strings.Replace(t, "{access}", access, 1)
	}
	if strings.Contains(t, "{hung}") {
		hung := "hung"
		if strings.Contains(r.f.Header, "can't die") {
			hung = "can't die"
		}
		t = strings.Replace(t, "{hung}", hung, 1)
	}
	group := func(s string) string {
		n := int(s[1] - '0')
		if n < len(r.sub) {
			return r.sub[n]
		}
		return ""
	}
	t = reOptional.ReplaceAllStringFunc(t, func(s string) string {
		inner := s[1 : len(s)-1]
		for _, g := range reGroup.FindAllString(inner, -1) {
			if group(g) == "" {
				return ""
			}
		}
		return inner
	})
	t = reGroup.ReplaceAllStringFunc(t, group)
	return strings.Join(strings.Fields(t), " ")
}
