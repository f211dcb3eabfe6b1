package printk

import "testing"

// StampLen and CallerLen each take their own bracketed field and
// nothing else.
func TestFieldLen(t *testing.T) {
	for _, c := range []struct {
		s             string
		stamp, caller int
	}{
		{"[    1.234567] msg", 14, 0},
		{"[12.5]x", 6, 0},
		{"[ 1.]", 0, 0},
		{"[ .5]", 0, 0},
		{"[1.5", 0, 0},
		{"x[1.5]", 0, 0},
		{"", 0, 0},
		{"[  T123] msg", 0, 8},
		{"[    C4]", 0, 8},
		{"[T1]", 0, 4},
		{"[  X123]", 0, 0},
		{"[  T]", 0, 0},
	} {
		if got := StampLen(c.s); got != c.stamp {
			t.Errorf("StampLen(%q) = %d, want %d", c.s, got, c.stamp)
		}
		if got := CallerLen(c.s); got != c.caller {
			t.Errorf("CallerLen(%q) = %d, want %d", c.s, got, c.caller)
		}
	}
}

func TestIndexStamp(t *testing.T) {
	for _, c := range []struct {
		s     string
		from  int
		micro bool
		i, n  int
	}{
		{"ok 1 [1.5] x[    2.345678] y", 0, false, 5, 5},
		{"ok 1 [1.5] x[    2.345678] y", 0, true, 12, 14},
		{"ok 1 [1.5] x[    2.345678] y", 13, false, -1, 0},
		{"[[[ 3.000001]", 0, true, 2, 11},
		{"no stamp [x] [1.] here", 0, false, -1, 0},
	} {
		if i, n := IndexStamp(c.s, c.from, c.micro); i != c.i || n != c.n {
			t.Errorf("IndexStamp(%q, %d, %v) = %d, %d; want %d, %d", c.s, c.from, c.micro, i, n, c.i, c.n)
		}
	}
}
