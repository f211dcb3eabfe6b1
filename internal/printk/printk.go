// Package printk reads the time stamp that printk puts before a kernel
// message on the console ("[   12.345678] "), for the two readers of a
// console log: the KTAP parser, which drops kernel messages between KTAP
// lines (internal/ktap), and the report scanner, which cuts a line where
// a stamp begins and removes it from a message (internal/splat).
package printk

import "strings"

// StampLen returns the length of a time stamp "[  12.345]" at the start
// of s (spaces, seconds, a dot, a fraction, a closing bracket), or 0.
func StampLen(s string) int {
	if len(s) < 4 || s[0] != '[' {
		return 0
	}
	i := 1
	for i < len(s) && s[i] == ' ' {
		i++
	}
	d := i
	i = digits(s, i)
	if i == d || i >= len(s) || s[i] != '.' {
		return 0
	}
	i++
	d = i
	i = digits(s, i)
	if i == d || i >= len(s) || s[i] != ']' {
		return 0
	}
	return i + 1
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
