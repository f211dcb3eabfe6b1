// Package printk reads the time stamp (and caller id) that printk puts
// before a kernel message on the console ("[   12.345678] "), for the
// two readers of a console log: the KTAP parser, which drops kernel
// messages between KTAP lines (internal/ktap), and the report scanner,
// which cuts a line where a stamp begins and removes the prefix from a
// message (internal/splat).
package printk

import "strings"

// StampLen returns the length of a time stamp "[  12.345]" at the start
// of s (spaces, seconds, a dot, a fraction, a closing bracket), or 0.
func StampLen(s string) int {
	return bracketed(s, func(i int) int {
		d := digits(s, i)
		if d == i || d >= len(s) || s[d] != '.' {
			return -1
		}
		if e := digits(s, d+1); e > d+1 {
			return e
		}
		return -1
	})
}

// CallerLen returns the length of a caller id "[  T123]" (a task) or
// "[    C4]" (a CPU) at the start of s, as CONFIG_PRINTK_CALLER prints
// it after the time stamp, or 0.
func CallerLen(s string) int {
	return bracketed(s, func(i int) int {
		if i >= len(s) || (s[i] != 'T' && s[i] != 'C') {
			return -1
		}
		if e := digits(s, i+1); e > i+1 {
			return e
		}
		return -1
	})
}

// bracketed returns the length of "[", spaces, what body accepts and "]"
// at the start of s, or 0. body gets the index after the spaces and
// returns the index after what it accepts, or -1.
func bracketed(s string, body func(i int) int) int {
	if len(s) < 4 || s[0] != '[' {
		return 0
	}
	i := 1
	for i < len(s) && s[i] == ' ' {
		i++
	}
	j := body(i)
	if j < 0 || j >= len(s) || s[j] != ']' {
		return 0
	}
	return j + 1
}

// IndexStamp returns the start and length of the first time stamp in s
// at or after from, or -1 and 0. With micro, only a stamp with printk's
// own six-digit fraction counts: text such as "[1.5]" in a message that
// a program printed is not taken for one.
func IndexStamp(s string, from int, micro bool) (int, int) {
	for from < len(s) {
		j := strings.IndexByte(s[from:], '[')
		if j < 0 {
			break
		}
		j += from
		if n := StampLen(s[j:]); n > 0 && (!micro || (n >= 9 && s[j+n-8] == '.')) {
			return j, n
		}
		from = j + 1
	}
	return -1, 0
}

func digits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
