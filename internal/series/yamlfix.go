package series

import (
	"regexp"
	"strings"
)

// blockHeader matches "key: |" (also |-, |+, >, >-, >+) at the end of a
// line, with the key possibly after "- ".
var blockHeader = regexp.MustCompile(`^( *(?:- +)*)([A-Za-z0-9_.-]+: +)([|>])([-+]?) *$`)

// addIndentIndicators works around a yaml.v3 limitation: a block scalar
// whose first line starts with a tab after its indentation (kernel code:
// "    \tfoo();") is rejected unless the header carries an explicit
// indentation indicator ("|4"). We add that indicator, computed from the
// first non-blank line of the block, so template authors can write kernel
// code naturally.
func addIndentIndicators(src []byte) []byte {
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		m := blockHeader.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		keyCol := len(m[1])
		for j := i + 1; j < len(lines); j++ {
			if strings.TrimSpace(lines[j]) == "" {
				continue
			}
			n := len(lines[j]) - len(strings.TrimLeft(lines[j], " "))
			if d := n - keyCol; d >= 1 && d <= 9 {
				lines[i] = m[1] + m[2] + m[3] + string(rune('0'+d)) + m[4]
			}
			break
		}
	}
	return []byte(strings.Join(lines, "\n"))
}
