// Package lines picks the lines that a one-line message quotes out of a
// program's output or an error's text: the first line, or the last few.
package lines

import "strings"

// First is the first line of s, without the white space around s.
func First(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// Last is the last n lines of s (all of them when it has fewer), without
// the white space around s, joined by newlines.
func Last(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
