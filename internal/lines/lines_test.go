package lines

import "testing"

func TestFirstLast(t *testing.T) {
	for _, c := range []struct{ in, first, last2 string }{
		{"", "", ""},
		{"one", "one", "one"},
		{"\n  one\ntwo\nthree\n\n", "one", "two\nthree"},
		{"make: *** [x] Error 2\n", "make: *** [x] Error 2", "make: *** [x] Error 2"},
	} {
		if got := First(c.in); got != c.first {
			t.Errorf("First(%q) = %q, want %q", c.in, got, c.first)
		}
		if got := Last(c.in, 2); got != c.last2 {
			t.Errorf("Last(%q, 2) = %q, want %q", c.in, got, c.last2)
		}
	}
}
