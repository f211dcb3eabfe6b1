// Package uapicheck compares the perf uapi additions of the series with
// upstream Linux 7.x, field by field, by reading both
// include/uapi/linux/perf_event.h files: the positions and widths of the
// defer_callchain and defer_output bits (and of every other bit of the
// perf_event_attr flags word), the value of PERF_RECORD_CALLCHAIN_DEFERRED,
// the value of PERF_CONTEXT_USER_DEFERRED and the record layout that the
// header documents in the comment above PERF_RECORD_CALLCHAIN_DEFERRED.
//
// Tools written against upstream must work unchanged on a tree carrying
// the series: any difference here breaks them.
package uapicheck

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Bit is one named bit-field of the perf_event_attr flags word.
type Bit struct {
	Pos, Width int
}

// Header is what the check reads from a perf_event.h.
type Header struct {
	// Bits are the fields of the u64 bit-field word of struct
	// perf_event_attr that starts with "disabled", in bit order.
	Bits  map[string]Bit
	Order []string
	// Enums maps an enum name to its members' values as written (spaces
	// removed), e.g. Enums["perf_event_type"]["PERF_RECORD_SAMPLE"] = "9".
	Enums map[string]map[string]string
	// Layouts maps a PERF_RECORD_* member to the record layout documented
	// in the comment just above it ("struct { ... };", one normalized
	// line per field).
	Layouts map[string][]string
}

var (
	blockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	bitRE        = regexp.MustCompile(`(\w+)\s*:\s*(\d+)\s*([,;])`)
	memberRE     = regexp.MustCompile(`^\s*(\w+)\s*(?:=\s*([^,]+?))?\s*,?\s*$`)
	spaces       = regexp.MustCompile(`\s+`)
)

// Parse reads a perf_event.h. It fails when struct perf_event_attr, its
// flags word, or enum perf_event_type cannot be found: the text is not a
// perf uapi header.
func Parse(src []byte) (*Header, error) {
	text := string(src)
	h := &Header{Bits: map[string]Bit{}, Enums: map[string]map[string]string{}, Layouts: map[string][]string{}}

	attr, err := block(text, "struct perf_event_attr")
	if err != nil {
		return nil, err
	}
	if err := h.parseBits(attr); err != nil {
		return nil, err
	}
	for _, name := range []string{"perf_event_type", "perf_callchain_context"} {
		body, err := block(text, "enum "+name)
		if err != nil {
			return nil, err
		}
		h.Enums[name] = enumValues(body)
		if name == "perf_event_type" {
			h.Layouts = layouts(body)
		}
	}
	return h, nil
}

// block returns the body of "decl {" ... "};" starting at column 0.
func block(text, decl string) (string, error) {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.TrimRight(l, " \t") != decl+" {" {
			continue
		}
		depth := 0
		for j := i; j < len(lines); j++ {
			depth += strings.Count(lines[j], "{") - strings.Count(lines[j], "}")
			if j > i && depth == 0 {
				return strings.Join(lines[i+1:j], "\n"), nil
			}
		}
		return "", fmt.Errorf("uapicheck: %q has no closing brace", decl)
	}
	return "", fmt.Errorf("uapicheck: no %q at column 0: is this include/uapi/linux/perf_event.h?", decl+" {")
}

// parseBits reads the u64 bit-field word that begins with "disabled".
func (h *Header) parseBits(attr string) error {
	code := blockComment.ReplaceAllString(attr, "")
	start := regexp.MustCompile(`__u64\s+disabled\s*:`).FindStringIndex(code)
	if start == nil {
		return fmt.Errorf("uapicheck: struct perf_event_attr has no \"__u64 disabled : 1\" bit-field word")
	}
	code = code[start[0]+len("__u64"):]
	pos := 0
	for _, m := range bitRE.FindAllStringSubmatch(code, -1) {
		var w int
		fmt.Sscan(m[2], &w)
		h.Bits[m[1]] = Bit{Pos: pos, Width: w}
		h.Order = append(h.Order, m[1])
		pos += w
		if m[3] == ";" {
			if pos != 64 {
				return fmt.Errorf("uapicheck: the perf_event_attr flags word has %d bits, not 64", pos)
			}
			return nil
		}
	}
	return fmt.Errorf("uapicheck: the perf_event_attr flags word does not end with ';'")
}

func enumValues(body string) map[string]string {
	vals := map[string]string{}
	for _, l := range strings.Split(blockComment.ReplaceAllString(body, ""), "\n") {
		m := memberRE.FindStringSubmatch(l)
		if m == nil || strings.TrimSpace(l) == "" {
			continue
		}
		vals[m[1]] = spaces.ReplaceAllString(m[2], "")
	}
	return vals
}

// layouts extracts, for every member preceded by a comment, the
// "struct { ... };" part of that comment.
func layouts(body string) map[string][]string {
	out := map[string][]string{}
	lines := strings.Split(body, "\n")
	var comment []string
	in := false
	for _, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "/*"):
			in, comment = true, nil
			if strings.HasSuffix(t, "*/") {
				in = false
			}
		case in:
			if strings.HasSuffix(t, "*/") {
				in = false
				continue
			}
			comment = append(comment, strings.TrimSpace(strings.TrimPrefix(t, "*")))
		case t == "":
		default:
			if m := memberRE.FindStringSubmatch(l); m != nil && comment != nil {
				if s := structPart(comment); s != nil {
					out[m[1]] = s
				}
			}
			comment = nil
		}
	}
	return out
}

func structPart(comment []string) []string {
	var out []string
	for _, c := range comment {
		c = spaces.ReplaceAllString(c, " ")
		if c == "struct {" {
			out = []string{c}
			continue
		}
		if out != nil {
			out = append(out, c)
			if c == "};" {
				return out
			}
		}
	}
	return nil
}

// Item is one compared field.
type Item struct {
	Field    string // e.g. "perf_event_attr.defer_callchain bit"
	Ours     string
	Upstream string
}

// Match reports whether both sides agree.
func (i Item) Match() bool { return i.Ours == i.Upstream }

func (i Item) String() string {
	if i.Match() {
		return fmt.Sprintf("%s: %s (same)", i.Field, i.Ours)
	}
	return fmt.Sprintf("%s: ours %s, upstream %s", i.Field, i.Ours, i.Upstream)
}

func bitString(h *Header, name string) string {
	b, ok := h.Bits[name]
	if !ok {
		return "absent"
	}
	return fmt.Sprintf("bit %d width %d", b.Pos, b.Width)
}

func enumString(h *Header, enum, name string) string {
	v, ok := h.Enums[enum][name]
	if !ok {
		return "absent"
	}
	if v == "" {
		return "implicit"
	}
	return v
}

// Compare lists the fields of the deferred-callchain ABI on both sides,
// then every other bit of the perf_event_attr flags word that either side
// has (a shifted neighbour would break tools as much as a wrong bit).
func Compare(ours, upstream *Header) []Item {
	items := []Item{
		{"perf_event_attr.defer_callchain", bitString(ours, "defer_callchain"), bitString(upstream, "defer_callchain")},
		{"perf_event_attr.defer_output", bitString(ours, "defer_output"), bitString(upstream, "defer_output")},
		{"enum perf_event_type PERF_RECORD_CALLCHAIN_DEFERRED",
			enumString(ours, "perf_event_type", "PERF_RECORD_CALLCHAIN_DEFERRED"),
			enumString(upstream, "perf_event_type", "PERF_RECORD_CALLCHAIN_DEFERRED")},
		{"enum perf_callchain_context PERF_CONTEXT_USER_DEFERRED",
			enumString(ours, "perf_callchain_context", "PERF_CONTEXT_USER_DEFERRED"),
			enumString(upstream, "perf_callchain_context", "PERF_CONTEXT_USER_DEFERRED")},
		{"PERF_RECORD_CALLCHAIN_DEFERRED record layout",
			layoutString(ours.Layouts["PERF_RECORD_CALLCHAIN_DEFERRED"]),
			layoutString(upstream.Layouts["PERF_RECORD_CALLCHAIN_DEFERRED"])},
	}
	seen := map[string]bool{"defer_callchain": true, "defer_output": true}
	var rest []string
	for _, h := range []*Header{ours, upstream} {
		for _, n := range h.Order {
			if !seen[n] {
				seen[n] = true
				rest = append(rest, n)
			}
		}
	}
	sort.SliceStable(rest, func(i, j int) bool { return pos(ours, upstream, rest[i]) < pos(ours, upstream, rest[j]) })
	for _, n := range rest {
		items = append(items, Item{"perf_event_attr." + n, bitString(ours, n), bitString(upstream, n)})
	}
	return items
}

func pos(a, b *Header, n string) int {
	if x, ok := a.Bits[n]; ok {
		return x.Pos
	}
	return b.Bits[n].Pos
}

func layoutString(l []string) string {
	if l == nil {
		return "absent"
	}
	return strings.Join(l, " ")
}
