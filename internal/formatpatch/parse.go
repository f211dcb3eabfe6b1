package formatpatch

import (
	"bufio"
	"fmt"
	"mime"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// Mail is one parsed format-patch file.
type Mail struct {
	File     string // base name
	From     *mail.Address
	Subject  string // decoded, unfolded, with the [PATCH] tag
	Tag      string // the bracketed tag, e.g. "PATCH v2 03/12" ("" if none)
	Summary  string // the subject after the tag
	Body     []Line // the commit message body (after the subject) up to "---"
	Trailers []Line // the trailer lines at the end of Body (also in Body)
	Notes    []Line // lines between "---" and the first "diff --git" (diffstat, notes)
	HasDiff  bool
}

// Line is a line of a mail with its 1-based line number in the file.
type Line struct {
	N    int
	Text string
}

var (
	reTag     = regexp.MustCompile(`^\[([^\]]*)\]\s*(.*)$`)
	reNumber  = regexp.MustCompile(`(\d+)/(\d+)$`)
	reTrailer = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*):\s+\S`)
)

// ReadMail parses a format-patch file.
func ReadMail(path string) (*Mail, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := ParseMail(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.File = filepath.Base(path)
	return m, nil
}

// ParseMail parses the bytes of one format-patch mail.
func ParseMail(b []byte) (*Mail, error) {
	lines := strings.Split(string(b), "\n")
	i := 0
	if strings.HasPrefix(lines[0], "From ") && !strings.HasPrefix(lines[0], "From: ") {
		i = 1 // mbox separator
	}
	// Headers end at the first empty line.
	hstart := i
	for i < len(lines) && lines[i] != "" {
		i++
	}
	if i >= len(lines) {
		return nil, fmt.Errorf("no end of mail headers (not a git format-patch file?)")
	}
	tp := textproto.NewReader(bufio.NewReader(strings.NewReader(strings.Join(lines[hstart:i], "\n") + "\n\n")))
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("mail headers: %w", err)
	}
	m := &Mail{}
	dec := new(mime.WordDecoder)
	if from := h.Get("From"); from != "" {
		d, err := dec.DecodeHeader(from)
		if err != nil {
			d = from
		}
		if a, err := mail.ParseAddress(d); err == nil {
			m.From = a
		}
	}
	subj := h.Get("Subject")
	if d, err := dec.DecodeHeader(subj); err == nil {
		subj = d
	}
	m.Subject = subj
	m.Summary = subj
	if t := reTag.FindStringSubmatch(subj); t != nil {
		m.Tag, m.Summary = t[1], t[2]
	}
	i++ // blank line after headers
	// Body up to "---" (or to the first diff when there is none).
	for ; i < len(lines); i++ {
		l := lines[i]
		if l == "---" || strings.HasPrefix(l, "diff --git ") {
			break
		}
		m.Body = append(m.Body, Line{i + 1, l})
	}
	for len(m.Body) > 0 && strings.TrimSpace(m.Body[len(m.Body)-1].Text) == "" {
		m.Body = m.Body[:len(m.Body)-1]
	}
	// The trailer block: the last paragraph, if all its lines are trailers.
	j := len(m.Body)
	for j > 0 && strings.TrimSpace(m.Body[j-1].Text) != "" {
		j--
	}
	para := m.Body[j:]
	all := len(para) > 0
	for _, l := range para {
		if !reTrailer.MatchString(l.Text) && !strings.HasPrefix(l.Text, "[") && !strings.HasPrefix(l.Text, " ") {
			all = false
		}
	}
	if all {
		m.Trailers = para
	}
	if i < len(lines) && lines[i] == "---" {
		i++
		for ; i < len(lines) && !strings.HasPrefix(lines[i], "diff --git "); i++ {
			m.Notes = append(m.Notes, Line{i + 1, lines[i]})
		}
	}
	// Cover letters carry their diffstat in the body, not after "---".
	for _, l := range lines[i:] {
		if strings.HasPrefix(l, "diff --git ") {
			m.HasDiff = true
			break
		}
	}
	return m, nil
}

// IsCover reports whether m is a cover letter ([PATCH 0/n]).
func (m *Mail) IsCover() bool {
	n := reNumber.FindStringSubmatch(m.Tag)
	return n != nil && strings.TrimLeft(n[1], "0") == ""
}

// Number returns the n and total of the tag's "n/total" ([PATCH v2
// 03/12]: 3, 12); ok is false when the tag has none.
func (m *Mail) Number() (n, total int, ok bool) {
	t := reNumber.FindStringSubmatch(m.Tag)
	if t == nil {
		return 0, 0, false
	}
	n, _ = strconv.Atoi(t[1])
	total, _ = strconv.Atoi(t[2])
	return n, total, true
}

// TrailerKey returns the key of a trailer line ("Signed-off-by" of
// "Signed-off-by: A <a@b.c>"); ok is false when text is not one.
func TrailerKey(text string) (key string, ok bool) {
	if t := reTrailer.FindStringSubmatch(text); t != nil {
		return t[1], true
	}
	return "", false
}

// RecordedBase returns the "base-commit:" of the cover letter in dir
// (0000-cover-letter.patch, or vN-0000-cover-letter.patch).
func RecordedBase(dir string) (plumbing.Hash, bool) {
	names, _ := filepath.Glob(filepath.Join(dir, "*0000-cover-letter.patch"))
	if len(names) != 1 {
		return plumbing.ZeroHash, false
	}
	data, err := os.ReadFile(names[0])
	if err != nil {
		return plumbing.ZeroHash, false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if h, ok := strings.CutPrefix(l, "base-commit: "); ok && len(strings.TrimSpace(h)) == 40 {
			return plumbing.NewHash(strings.TrimSpace(h)), true
		}
	}
	return plumbing.ZeroHash, false
}
