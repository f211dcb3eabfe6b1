// Package commitcheck checks the metadata of a "git format-patch" series:
// each patch's subject (the [PATCH n/m] tag, a "subsystem: " prefix, the
// length), its body (wrapped at 75 columns), its trailers (a Signed-off-by
// from the author, no duplicates), and the cover letter (present, filled
// in, with a diffstat).
//
// It reads the mails as format-patch writes them; it does not need git or
// a kernel tree.
package commitcheck

import (
	"fmt"
	"net/mail"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kdefer/kdefer/internal/formatpatch"
)

// Limits used by the checks.
const (
	MaxSubject = 75 // characters of the summary after the [PATCH] tag
	MaxBody    = 75 // columns of a commit message line
)

// Level is a finding's severity.
type Level string

// Levels.
const (
	Error   Level = "ERROR"
	Warning Level = "WARNING"
)

// Rules, the Rule field of a Finding.
const (
	RuleSubjectTag       = "subject-tag"       // [PATCH n/m] missing or numbered wrongly
	RuleSubjectPrefix    = "subject-prefix"    // no "subsystem: " prefix
	RuleSubjectLength    = "subject-length"    // summary longer than MaxSubject
	RuleBodyWrap         = "body-wrap"         // a body line longer than MaxBody
	RuleBodyEmpty        = "body-empty"        // no description at all
	RuleSignoff          = "signoff"           // no Signed-off-by at all
	RuleAuthorSignoff    = "author-signoff"    // no Signed-off-by from the author
	RuleDuplicateTrailer = "duplicate-trailer" // the same trailer twice
	RuleCoverLetter      = "cover-letter"      // cover letter missing or not filled in
	RuleCoverDiffstat    = "cover-diffstat"    // cover letter without a diffstat
)

// Finding is one metadata problem.
type Finding struct {
	Patch   string // file name of the patch ("0003-....patch")
	Level   Level
	Rule    string
	Message string
	Line    int // line in the patch file (0 when it is about the whole mail)
}

func (f Finding) String() string {
	loc := ""
	if f.Line > 0 {
		loc = ":" + strconv.Itoa(f.Line)
	}
	return fmt.Sprintf("%s%s: %s:%s: %s", f.Patch, loc, f.Level, f.Rule, f.Message)
}

var (
	rePrefix = regexp.MustCompile(`^[A-Za-z0-9_.,/+ -]+: \S`)
	reStat   = regexp.MustCompile(`^ \d+ files? changed`)
)

// Mail is a parsed format-patch file (formatpatch.Mail).
type Mail = formatpatch.Mail

// Line is a line of a mail (formatpatch.Line).
type Line = formatpatch.Line

// Check checks a series directory: the format-patch files in dir
// ("*.patch", in name order), cover letter included.
func Check(dir string) ([]Finding, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.patch"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("commitcheck: no *.patch files in %s", dir)
	}
	sort.Strings(files)
	var mails []*Mail
	for _, f := range files {
		m, err := formatpatch.ReadMail(f)
		if err != nil {
			return nil, err
		}
		mails = append(mails, m)
	}
	return CheckSeries(mails), nil
}

// CheckSeries checks parsed mails (in order, cover letter first if any).
func CheckSeries(mails []*Mail) []Finding {
	var fs []Finding
	var cover *Mail
	var patches []*Mail
	for _, m := range mails {
		if m.IsCover() {
			cover = m
		} else {
			patches = append(patches, m)
		}
	}
	if len(patches) > 1 {
		if cover == nil {
			fs = append(fs, Finding{Patch: "(series)", Level: Error, Rule: RuleCoverLetter,
				Message: fmt.Sprintf("a series of %d patches has no cover letter (0000-cover-letter.patch)", len(patches))})
		} else {
			fs = append(fs, checkCover(cover)...)
		}
	}
	for i, m := range patches {
		fs = append(fs, CheckPatch(m, i+1, len(patches))...)
	}
	return fs
}

func checkCover(m *Mail) []Finding {
	var fs []Finding
	add := func(rule, msg string) {
		fs = append(fs, Finding{Patch: m.File, Level: Error, Rule: rule, Message: msg})
	}
	if strings.Contains(m.Summary, "*** SUBJECT HERE ***") || strings.TrimSpace(m.Summary) == "" {
		add(RuleCoverLetter, "the cover letter's subject is not filled in")
	}
	blurb, stat := false, false
	for _, l := range m.Body {
		if strings.Contains(l.Text, "*** BLURB HERE ***") {
			blurb = true
		}
		if reStat.MatchString(l.Text) {
			stat = true
		}
	}
	if blurb {
		add(RuleCoverLetter, "the cover letter's body is the '*** BLURB HERE ***' placeholder")
	}
	if !stat {
		add(RuleCoverDiffstat, "the cover letter has no diffstat (' N files changed, ...'); generate it with git format-patch --cover-letter")
	}
	return fs
}

// CheckPatch checks one patch mail, the index-th of total.
func CheckPatch(m *Mail, index, total int) []Finding {
	var fs []Finding
	add := func(l Level, rule string, line int, format string, args ...any) {
		fs = append(fs, Finding{Patch: m.File, Level: l, Rule: rule, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	// Subject.
	switch {
	case m.Tag == "":
		add(Error, RuleSubjectTag, 0, "subject %q has no [PATCH] tag", m.Subject)
	case total > 1:
		a, b, ok := m.Number()
		if !ok {
			add(Error, RuleSubjectTag, 0, "subject tag [%s] has no n/%d number in a %d-patch series", m.Tag, total, total)
		} else if a != index {
			add(Error, RuleSubjectTag, 0, "subject tag [%s] says patch %d, but it is patch %d of the series", m.Tag, a, index)
		} else if b != total {
			add(Error, RuleSubjectTag, 0, "subject tag [%s] says %d patches, but the series has %d", m.Tag, b, total)
		}
	}
	if !rePrefix.MatchString(m.Summary) {
		add(Error, RuleSubjectPrefix, 0, "subject %q has no 'subsystem: ' prefix", m.Summary)
	}
	if n := len([]rune(m.Summary)); n > MaxSubject {
		add(Warning, RuleSubjectLength, 0, "subject is %d characters, more than %d: %q", n, MaxSubject, m.Summary)
	}
	// Body.
	desc := 0
	inTrailers := map[int]bool{}
	for _, t := range m.Trailers {
		inTrailers[t.N] = true
	}
	for _, l := range m.Body {
		if inTrailers[l.N] {
			continue
		}
		if strings.TrimSpace(l.Text) != "" {
			desc++
		}
		if n := len([]rune(l.Text)); n > MaxBody && !exemptLong(l.Text) {
			add(Warning, RuleBodyWrap, l.N, "commit message line is %d columns, wrap at %d: %q", n, MaxBody, l.Text)
		}
	}
	if desc == 0 {
		add(Warning, RuleBodyEmpty, 0, "the commit message has no description, only a subject")
	}
	// Trailers.
	seen := map[string]int{}
	var sobs []string
	for _, t := range m.Trailers {
		k := strings.ToLower(strings.Join(strings.Fields(t.Text), " "))
		if first, dup := seen[k]; dup {
			add(Error, RuleDuplicateTrailer, t.N, "trailer %q repeats line %d", t.Text, first)
		} else {
			seen[k] = t.N
		}
		if key, ok := formatpatch.TrailerKey(t.Text); ok && strings.EqualFold(key, "Signed-off-by") {
			sobs = append(sobs, strings.TrimSpace(t.Text[len(key)+1:]))
		}
	}
	switch {
	case len(sobs) == 0:
		add(Error, RuleSignoff, 0, "no Signed-off-by trailer (the author must certify the DCO: git commit -s)")
	case m.From != nil:
		ok := false
		for _, s := range sobs {
			if a, err := mail.ParseAddress(s); err == nil && strings.EqualFold(a.Address, m.From.Address) {
				ok = true
			}
		}
		if !ok {
			add(Error, RuleAuthorSignoff, 0, "no Signed-off-by from the author %s (have: %s)", m.From.Address, strings.Join(sobs, "; "))
		}
	}
	return fs
}

// exemptLong says whether a long body line is allowed: URLs, single long
// tokens (paths, hashes), and quoted tool output indented by a tab or
// several spaces.
func exemptLong(s string) bool {
	t := strings.TrimSpace(s)
	return strings.Contains(t, "://") || !strings.ContainsAny(t, " \t") ||
		strings.HasPrefix(s, "\t") || strings.HasPrefix(s, "  ")
}
