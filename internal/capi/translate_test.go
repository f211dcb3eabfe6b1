package capi

import "testing"

// Linux 7.3's DECLARE_PER_CPU_CACHE_HOT(struct task_struct * const
// __percpu_seg_override, const_current_task) preprocesses to a typeof of
// a qualified pointer; cc/v4 rejects __typeof__ of a type name there.
func TestTypeofQualifiedPointer(t *testing.T) {
	for in, want := range map[string]string{
		"extern __typeof__(struct task_struct * const __seg_gs) const_current_task;": "extern struct task_struct * const const_current_task;",
		"extern __typeof__(struct task_struct *) current_task;":                      "extern struct task_struct * current_task;",
		"__typeof__(unsigned long) x;":                                               "unsigned long x;",
		"__typeof__(x) y;":                                                           "__typeof__(x) y;",
	} {
		u := newUnit("t", in, func(s string) string { return s })
		if got := u.lines[0]; got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}
