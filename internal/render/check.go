package render

import (
	"bytes"

	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Mismatch is the result of Check when the rendered series and a
// directory of patches disagree.
type Mismatch struct {
	Dir   string
	Diffs []string // one entry per file: what differs and where
}

func (m *Mismatch) Error() string {
	return fmt.Sprintf("%s does not match the rendered series:\n  %s", m.Dir, strings.Join(m.Diffs, "\n  "))
}

// Check compares the rendered series with the *.patch files in dir and
// returns a *Mismatch naming each file that differs (with its first
// differing line), is missing, or is extra.
func (r *Result) Check(dir string) error {
	want := r.Files()
	have := map[string][]byte{}
	names, err := filepath.Glob(filepath.Join(dir, "*.patch"))
	if err != nil {
		return err
	}
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			return err
		}
		have[filepath.Base(n)] = data
	}
	m := &Mismatch{Dir: dir}
	var all []string
	for n := range want {
		all = append(all, n)
	}
	for n := range have {
		if _, ok := want[n]; !ok {
			all = append(all, n)
		}
	}
	sort.Strings(all)
	for _, n := range all {
		w, inWant := want[n]
		h, inHave := have[n]
		switch {
		case !inHave:
			m.Diffs = append(m.Diffs, n+": missing (the templates render it)")
		case !inWant:
			m.Diffs = append(m.Diffs, n+": extra (the templates do not render it)")
		case !bytes.Equal(w, h):
			m.Diffs = append(m.Diffs, n+": "+firstDifference(h, w))
		}
	}
	if len(m.Diffs) > 0 {
		return m
	}
	return nil
}

func firstDifference(have, want []byte) string {
	hl := strings.SplitAfter(string(have), "\n")
	wl := strings.SplitAfter(string(want), "\n")
	// Object ids (the mbox "From <commit>" line, "index" lines) change
	// with any change; show the first other difference, which says what
	// changed, and fall back to the ids.
	for _, skipIDs := range []bool{true, false} {
		i, h, w, ok := firstDiffLine(hl, wl, func(i int, h, w string) bool {
			return skipIDs && isIDLine(i, h) && isIDLine(i, w)
		})
		if ok {
			return fmt.Sprintf("first difference at line %d:\n      file:     %q\n      rendered: %q", i+1, strings.TrimSuffix(h, "\n"), strings.TrimSuffix(w, "\n"))
		}
	}
	return "differs"
}

func isIDLine(i int, l string) bool {
	return i == 0 && strings.HasPrefix(l, "From ") || strings.HasPrefix(l, "index ") || strings.HasPrefix(l, "base-commit: ")
}

// firstDiffLine returns the index of the first line at which a and b
// differ and the two lines there ("" past the end of one; a missing line
// differs from an empty one). ignore, when not nil, excuses a
// difference. ok is false when no difference is left.
func firstDiffLine(a, b []string, ignore func(i int, x, y string) bool) (i int, x, y string, ok bool) {
	for i = 0; i < len(a) || i < len(b); i++ {
		x, y = "", ""
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		differ := x != y || (i < len(a)) != (i < len(b))
		if differ && (ignore == nil || !ignore(i, x, y)) {
			return i, x, y, true
		}
	}
	return 0, "", "", false
}
