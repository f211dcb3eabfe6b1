// Package formatpatch writes a series of commits as "git format-patch"
// does, byte for byte: the mail headers and file names, the diff
// sections (with a port of git's diff engine, diff.go), the diffstat and
// the cover letter with its shortlog and base-commit. It knows nothing of
// templates or trees: package render gives it the commits it built.
package formatpatch

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Abbrev is the length of the abbreviated blob ids on "index" lines:
// the kernel's recommended core.abbrev=12. The output equals
// "git -c core.abbrev=12 format-patch" (git's own default depends on the
// number of packed objects in the repository, which would make the bytes
// depend on whether the base repository was ever repacked).
const Abbrev = 12

// GitVersion is the version string of the "-- " mail signature that
// closes every patch (git format-patch writes the git version there).
// It is fixed so that output does not depend on the host's git.
const GitVersion = "2.39.5"

// MailWrap is git's MAIL_DEFAULT_WRAP (diffstat width, shortlog wrap).
const MailWrap = 72

// FileChange is one file changed by one commit.
type FileChange struct {
	Path string
	// Before and After are the contents; nil means the file is absent
	// (created or deleted by the patch).
	Before, After []byte
	// OldMode and Mode are the file modes (0 when absent).
	OldMode, Mode filemode.FileMode
	// OldHash and Hash are the blob ids (ZeroHash when absent).
	OldHash, Hash plumbing.Hash

	diff *fileDiff // the diff section, computed once
}

// PrepareDiff computes the diff section of c now and keeps it, so that
// writing the mails later does not compute it again.
func (c *FileChange) PrepareDiff() {
	var buf bytes.Buffer
	st := computeFileDiff(&buf, *c)
	c.diff = &fileDiff{buf.Bytes(), st}
}

// Patch is what format-patch reads of one commit.
type Patch struct {
	Commit  plumbing.Hash
	Author  object.Signature
	Subject string
	// Message is the full commit message: subject, blank line, body,
	// trailers, ending in a newline.
	Message string
	Changes []FileChange // sorted by path
}

// Cover is the cover letter.
type Cover struct {
	Subject string // without the "[PATCH 00/NN]" prefix
	Author  object.Signature
	Body    string // ends in a newline
}

// Series is "git format-patch -v Version --cover-letter --base=Base" of
// Patches.
type Series struct {
	Version int
	Patches []Patch
	Cover   Cover
	Base    plumbing.Hash
}

// FileName is git format-patch's file name for patch i (0: the cover
// letter's "cover-letter"), with "vN-" in front from version 2 on.
func FileName(version, i int, subject string) string {
	var b strings.Builder
	if version > 1 {
		fmt.Fprintf(&b, "v%d-", version)
	}
	fmt.Fprintf(&b, "%04d-", i)
	b.WriteString(sanitizeSubject(subject))
	// git: patch_name_max (64) minus ".patch" and one more
	if max := 64 - len(".patch") - 1; b.Len() > max {
		s := b.String()[:max]
		b.Reset()
		b.WriteString(s)
	}
	return b.String() + ".patch"
}

// sanitizeSubject is git's format_sanitized_subject.
func sanitizeSubject(s string) string {
	var b []byte
	space := 2
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' {
			if space == 1 {
				b = append(b, '-')
			}
			space = 0
			b = append(b, c)
			if c == '.' {
				for i+1 < len(s) && s[i+1] == '.' {
					i++
				}
			}
		} else {
			space |= 1
		}
	}
	for len(b) > 0 && (b[len(b)-1] == '.' || b[len(b)-1] == '-') {
		b = b[:len(b)-1]
	}
	return string(b)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// wrapText is git's strbuf_add_wrapped_text (utf8.c) for text without
// terminal escapes: words are kept whole, lines wrapped at width, the
// first line indented indent1 (negative: that many columns already
// used), the others indent2.
func WrapText(buf *bytes.Buffer, text string, indent1, indent2, width int) {
	bol, pos := 0, 0
	w, indent := indent1, indent1
	space := -1
	if indent < 0 {
		w = -indent
		space = 0
	}
	at := func(i int) byte {
		if i < len(text) {
			return text[i]
		}
		return 0
	}
	for {
		c := at(pos)
		if c == 0 || isSpace(c) {
			newLine := false
			if w <= width || space < 0 {
				start := bol
				if c == 0 && pos == start {
					return
				}
				if space >= 0 {
					start = space
				} else {
					buf.WriteString(strings.Repeat(" ", max(indent, 0)))
				}
				buf.WriteString(text[start:pos])
				if c == 0 {
					return
				}
				space = pos
				if c == '\t' {
					w |= 0x07
				} else if c == '\n' {
					space++
					if at(space) == '\n' {
						buf.WriteByte('\n')
						newLine = true
					} else if !isAlnum(at(space)) {
						newLine = true
					} else {
						buf.WriteByte(' ')
					}
				}
				if !newLine {
					w++
					pos++
					continue
				}
			}
			buf.WriteByte('\n')
			pos = space
			if isSpace(at(space)) {
				pos++
			}
			bol = pos
			space = -1
			w, indent = indent2, indent2
			continue
		}
		_, size := utf8.DecodeRuneInString(text[pos:])
		w++
		pos += size
	}
}

func hasNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// formatIdent is git's "From:" value: the name quoted per RFC 822 when
// it holds specials, RFC 2047-encoded when it is not ASCII.
func formatIdent(name, email string) string {
	switch {
	case hasNonASCII(name):
		var b strings.Builder
		b.WriteString("=?UTF-8?q?")
		for i := 0; i < len(name); i++ {
			c := name[i]
			switch {
			case c == ' ':
				b.WriteByte('_')
			case c >= 0x80 || !(isAlnum(c) || strings.IndexByte("!*+-/", c) >= 0):
				fmt.Fprintf(&b, "=%02X", c)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteString("?=")
		return b.String() + " <" + email + ">"
	case strings.ContainsAny(name, "()<>@,;:\\\".[]"):
		q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name)
		return `"` + q + `" <` + email + ">"
	}
	return name + " <" + email + ">"
}

const rfc2822 = "Mon, 2 Jan 2006 15:04:05 -0700"

// Prefix is the subject prefix of patch i (0: the cover letter):
// "[PATCH 03/19] ", "[PATCH v2 03/19] ".
func (r *Series) Prefix(i int) string {
	n := len(r.Patches)
	wd := len(fmt.Sprint(n))
	v := ""
	if r.Version > 1 {
		v = fmt.Sprintf("v%d ", r.Version)
	}
	return fmt.Sprintf("[PATCH %s%0*d/%d] ", v, wd, i, n)
}

// WriteHeaders writes the mail headers of a patch or cover letter: the
// "From <commit>" line, From:, Date:, the wrapped Subject: with prefix,
// and the MIME headers when eightBit.
func WriteHeaders(b *bytes.Buffer, commit plumbing.Hash, author object.Signature, prefix, subject string, eightBit bool) {
	fmt.Fprintf(b, "From %s Mon Sep 17 00:00:00 2001\n", commit)
	from := formatIdent(author.Name, author.Email)
	name, addr, _ := strings.Cut(from, " <")
	// git's pp_user_info: the address goes on a continuation line when
	// "From: name <address>" would pass 78 columns.
	if len("From: ")+len(name)+len(" <")+len(addr) > 78 {
		fmt.Fprintf(b, "From: %s\n <%s\n", name, addr)
	} else {
		fmt.Fprintf(b, "From: %s\n", from)
	}
	fmt.Fprintf(b, "Date: %s\n", author.When.Format(rfc2822))
	head := "Subject: " + prefix
	b.WriteString(head)
	WrapText(b, subject, -len(head), 1, 78)
	b.WriteByte('\n')
	if eightBit {
		b.WriteString("MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n")
	}
	b.WriteByte('\n')
}

const signature = "-- \n" + GitVersion + "\n\n"

// Mail returns patch i (1-based) as "git format-patch" writes it (one
// mbox message).
func (r *Series) Mail(i int) []byte {
	p := &r.Patches[i-1]
	var b bytes.Buffer
	WriteHeaders(&b, p.Commit, p.Author, r.Prefix(i), p.Subject, hasNonASCII(p.Message) || hasNonASCII(p.Author.Name))
	_, body, _ := strings.Cut(p.Message, "\n")
	body = strings.TrimLeft(body, "\n")
	b.WriteString(body)
	if body != "" && !strings.HasSuffix(body, "\n") {
		b.WriteByte('\n')
	}
	b.WriteString("---\n")
	var diffs bytes.Buffer
	var stats []fileStat
	for i := range p.Changes {
		stats = append(stats, writeFileDiff(&diffs, p.Changes[i]))
	}
	writeDiffstat(&b, stats)
	b.WriteByte('\n')
	b.Write(diffs.Bytes())
	b.WriteString(signature)
	return b.Bytes()
}

type fileStat struct {
	path     string
	add, del int
	oldMode  filemode.FileMode
	mode     filemode.FileMode
}

func abbrev(h plumbing.Hash) string { return h.String()[:Abbrev] }

func mode(m filemode.FileMode) string { return fmt.Sprintf("%06o", uint32(m)) }

type fileDiff struct {
	text []byte
	st   fileStat
}

// writeFileDiff writes the "diff --git" section of one file.
func writeFileDiff(b *bytes.Buffer, c FileChange) fileStat {
	if c.diff == nil {
		var buf bytes.Buffer
		st := computeFileDiff(&buf, c)
		c.diff = &fileDiff{buf.Bytes(), st}
	}
	b.Write(c.diff.text)
	return c.diff.st
}

func computeFileDiff(b *bytes.Buffer, c FileChange) fileStat {
	fmt.Fprintf(b, "diff --git a/%s b/%s\n", c.Path, c.Path)
	switch {
	case c.Before == nil:
		fmt.Fprintf(b, "new file mode %s\nindex %s..%s\n--- /dev/null\n+++ b/%s\n", mode(c.Mode), abbrev(plumbing.ZeroHash), abbrev(c.Hash), c.Path)
	case c.After == nil:
		fmt.Fprintf(b, "deleted file mode %s\nindex %s..%s\n--- a/%s\n+++ /dev/null\n", mode(c.OldMode), abbrev(c.OldHash), abbrev(plumbing.ZeroHash), c.Path)
	default:
		if c.OldMode != c.Mode {
			fmt.Fprintf(b, "old mode %s\nnew mode %s\nindex %s..%s\n", mode(c.OldMode), mode(c.Mode), abbrev(c.OldHash), abbrev(c.Hash))
		} else {
			fmt.Fprintf(b, "index %s..%s %s\n", abbrev(c.OldHash), abbrev(c.Hash), mode(c.Mode))
		}
		fmt.Fprintf(b, "--- a/%s\n+++ b/%s\n", c.Path, c.Path)
	}
	add, del := unified(b, c.Before, c.After)
	st := fileStat{path: c.Path, add: add, del: del, oldMode: c.OldMode, mode: c.Mode}
	return st
}

func scaleLinear(it, width, maxChange int) int {
	if it == 0 {
		return 0
	}
	return 1 + it*(width-1)/maxChange
}

// writeDiffstat is git's show_stats with stat_width 72 followed by the
// summary ("create mode" ...) lines.
func writeDiffstat(b *bytes.Buffer, stats []fileStat) {
	if len(stats) == 0 {
		b.WriteString(" 0 files changed\n")
		return
	}
	maxLen, maxChange := 0, 0
	for _, s := range stats {
		if l := utf8.RuneCountInString(s.path); l > maxLen {
			maxLen = l
		}
		if c := s.add + s.del; c > maxChange {
			maxChange = c
		}
	}
	width := MailWrap
	numberWidth := len(fmt.Sprint(maxChange))
	if width < 16+6+numberWidth {
		width = 16 + 6 + numberWidth
	}
	graphWidth := maxChange
	nameWidth := maxLen
	if nameWidth+numberWidth+6+graphWidth > width {
		if graphWidth > width*3/8-numberWidth-6 {
			graphWidth = width*3/8 - numberWidth - 6
			if graphWidth < 6 {
				graphWidth = 6
			}
		}
		if nameWidth > width-numberWidth-6-graphWidth {
			nameWidth = width - numberWidth - 6 - graphWidth
		} else {
			graphWidth = width - numberWidth - 6 - nameWidth
		}
	}
	adds, dels := 0, 0
	for _, s := range stats {
		name := s.path
		prefix := ""
		l := nameWidth
		if nameLen := utf8.RuneCountInString(name); nameWidth < nameLen {
			prefix = "..."
			l -= 3
			if l < 0 {
				l = 0
			}
			for nameLen > l {
				_, sz := utf8.DecodeRuneInString(name)
				name = name[sz:]
				nameLen--
			}
			if i := strings.IndexByte(name, '/'); i >= 0 {
				name = name[i:]
			}
		}
		padding := max(l-utf8.RuneCountInString(name), 0)
		add, del := s.add, s.del
		adds += add
		dels += del
		if graphWidth <= maxChange {
			total := scaleLinear(add+del, graphWidth, maxChange)
			if total < 2 && add > 0 && del > 0 {
				total = 2
			}
			if add < del {
				add = scaleLinear(add, graphWidth, maxChange)
				del = total - add
			} else {
				del = scaleLinear(del, graphWidth, maxChange)
				add = total - del
			}
		}
		sep := ""
		if s.add+s.del > 0 {
			sep = " "
		}
		fmt.Fprintf(b, " %s%s%s | %*d%s%s%s\n", prefix, name, strings.Repeat(" ", padding), numberWidth, s.add+s.del, sep,
			strings.Repeat("+", add), strings.Repeat("-", del))
	}
	n := len(stats)
	if n == 1 {
		fmt.Fprintf(b, " 1 file changed")
	} else {
		fmt.Fprintf(b, " %d files changed", n)
	}
	if adds > 0 || dels == 0 {
		if adds == 1 {
			b.WriteString(", 1 insertion(+)")
		} else {
			fmt.Fprintf(b, ", %d insertions(+)", adds)
		}
	}
	if dels > 0 || adds == 0 {
		if dels == 1 {
			b.WriteString(", 1 deletion(-)")
		} else {
			fmt.Fprintf(b, ", %d deletions(-)", dels)
		}
	}
	b.WriteByte('\n')
	for _, s := range stats {
		switch {
		case s.oldMode == 0:
			fmt.Fprintf(b, " create mode %s %s\n", mode(s.mode), s.path)
		case s.mode == 0:
			fmt.Fprintf(b, " delete mode %s %s\n", mode(s.oldMode), s.path)
		case s.oldMode != s.mode:
			fmt.Fprintf(b, " mode change %s => %s %s\n", mode(s.oldMode), mode(s.mode), s.path)
		}
	}
}

// CoverLetter returns "0000-cover-letter.patch" as "git format-patch
// --cover-letter --base=<Base>" writes it (nil without patches).
func (r *Series) CoverLetter() []byte {
	var b bytes.Buffer
	if len(r.Patches) == 0 {
		return nil
	}
	last := r.Patches[len(r.Patches)-1]
	WriteHeaders(&b, last.Commit, r.Cover.Author, r.Prefix(0), r.Cover.Subject, hasNonASCII(r.Cover.Body) || hasNonASCII(r.Cover.Author.Name))
	b.WriteString(r.Cover.Body)
	b.WriteByte('\n')
	// shortlog, by author name, patches in order
	byAuthor := map[string][]string{}
	var names []string
	for _, p := range r.Patches {
		if _, ok := byAuthor[p.Author.Name]; !ok {
			names = append(names, p.Author.Name)
		}
		byAuthor[p.Author.Name] = append(byAuthor[p.Author.Name], p.Subject)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "%s (%d):\n", n, len(byAuthor[n]))
		for _, s := range byAuthor[n] {
			WrapText(&b, s, 2, 4, MailWrap)
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
	// diffstat of the whole series: base against the final state
	first := map[string]FileChange{}
	var order []string
	for _, p := range r.Patches {
		for _, c := range p.Changes {
			f, ok := first[c.Path]
			if !ok {
				order = append(order, c.Path)
				f = FileChange{Path: c.Path, Before: c.Before, OldMode: c.OldMode, OldHash: c.OldHash}
			}
			f.After, f.Mode, f.Hash = c.After, c.Mode, c.Hash
			first[c.Path] = f
		}
	}
	sort.Strings(order)
	var stats []fileStat
	var sink bytes.Buffer
	for _, path := range order {
		f := first[path]
		if f.Before == nil && f.After == nil || f.Before != nil && f.After != nil && bytes.Equal(f.Before, f.After) && f.OldMode == f.Mode {
			continue
		}
		sink.Reset()
		stats = append(stats, writeFileDiff(&sink, f))
	}
	writeDiffstat(&b, stats)
	b.WriteString("\n\nbase-commit: ")
	b.WriteString(r.Base.String())
	b.WriteByte('\n')
	b.WriteString(signature)
	return b.Bytes()
}
