package kconfig

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Symbol is one config symbol as the Kconfig files define it.
type Symbol struct {
	Name string
	// Where is file:line of its (first) definition, relative to the tree.
	Where string
	// defs holds one dependency list per definition: its own "depends
	// on" expressions and those of the enclosing if/menu/choice blocks.
	defs [][]string
	// Prompt: a user can set it. A symbol without a prompt takes its
	// value from its defaults (Defaults) or from a select only.
	Prompt   bool
	Defaults []string
}

// Depends returns the symbol's full dependency as one expression: the
// conditions of a definition joined with &&, definitions joined with ||.
//
// A symbol without a prompt cannot be set by a fragment at all: its
// value is its default, so that default's expression is part of what it
// needs.
func (s *Symbol) Depends() string {
	var alts []string
	for _, d := range s.defs {
		if !s.Prompt && len(s.Defaults) > 0 {
			d = append(append([]string{}, d...), strings.Join(s.Defaults, " || "))
		}
		if len(d) == 0 {
			return ""
		}
		alts = append(alts, "("+strings.Join(d, ") && (")+")")
	}
	return strings.Join(alts, " || ")
}

// Tree is the Kconfig of one source tree for one architecture.
type Tree struct {
	Symbols map[string]*Symbol
	Files   int // Kconfig files read
}

var (
	reEntry   = regexp.MustCompile(`^(?:menu)?config\s+([A-Za-z0-9_]+)\s*$`)
	reDepends = regexp.MustCompile(`^depends\s+on\s+(.+?)\s*$`)
	reIf      = regexp.MustCompile(`^if\s+(.+?)\s*$`)
	reSource  = regexp.MustCompile(`^(o|r)?source\s+"([^"]+)"\s*$`)
	rePrompt  = regexp.MustCompile(`^(?:bool|tristate|string|int|hex|prompt)\s+"`)
	reDefBool = regexp.MustCompile(`^def_(?:bool|tristate)\s+(.+?)\s*$`)
)

// frame is an open if/menu/choice block.
type frame struct {
	kind  string // "if", "menu", "choice"
	conds []string
}

type loader struct {
	src, arch string
	t         *Tree
	stack     []frame
	// cur is the entry whose attributes are being read: a symbol's
	// definition (depends on adds to it) or a menu/choice header (depends
	// on adds to the block's conditions).
	cur      *[]string
	sym      *Symbol // the symbol being read, if any
	seen     map[string]bool
	maxFiles int
}

// Load reads the Kconfig files of src for arch, starting at src/Kconfig.
func Load(src, arch string) (*Tree, error) {
	l := &loader{src: src, arch: arch, t: &Tree{Symbols: map[string]*Symbol{}}, seen: map[string]bool{}, maxFiles: 5000}
	if err := l.file("Kconfig"); err != nil {
		return nil, err
	}
	return l.t, nil
}

func (l *loader) conds() []string {
	var c []string
	for _, f := range l.stack {
		c = append(c, f.conds...)
	}
	return c
}

func (l *loader) file(rel string) error {
	if l.seen[rel] {
		return nil
	}
	l.seen[rel] = true
	if l.t.Files++; l.t.Files > l.maxFiles {
		return fmt.Errorf("kconfig: more than %d Kconfig files under %s: a source loop?", l.maxFiles, l.src)
	}
	f, err := os.Open(filepath.Join(l.src, rel))
	if err != nil {
		return fmt.Errorf("kconfig: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n, help, helpIndent := 0, false, -1
	var cont string
	for sc.Scan() {
		n++
		raw := sc.Text()
		if help {
			// Help text runs while lines are blank or indented deeper
			// than its first line.
			if strings.TrimSpace(raw) == "" {
				continue
			}
			ind := len(raw) - len(strings.TrimLeft(raw, " \t"))
			if helpIndent < 0 {
				helpIndent = ind
			}
			if ind >= helpIndent && ind > 0 {
				continue
			}
			help, helpIndent = false, -1
		}
		if strings.HasSuffix(raw, "\\") {
			cont += strings.TrimSuffix(raw, "\\") + " "
			continue
		}
		line := strings.TrimSpace(cont + raw)
		cont = ""
		if i := strings.Index(line, "#"); i >= 0 && !strings.Contains(line[:i], `"`) {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		word, _, _ := strings.Cut(line, " ")
		switch {
		case word == "help" || word == "---help---":
			help, helpIndent = true, -1
		case reEntry.MatchString(line):
			name := reEntry.FindStringSubmatch(line)[1]
			s := l.t.Symbols[name]
			if s == nil {
				s = &Symbol{Name: name, Where: fmt.Sprintf("%s:%d", rel, n)}
				l.t.Symbols[name] = s
			}
			s.defs = append(s.defs, l.conds())
			l.cur = &s.defs[len(s.defs)-1]
			l.sym = s
		case l.sym != nil && rePrompt.MatchString(line):
			l.sym.Prompt = true
		case l.sym != nil && reDefBool.MatchString(line):
			e := strings.Join(strings.Fields(reDefBool.FindStringSubmatch(line)[1]), " ")
			if e != "y" && e != "n" {
				l.sym.Defaults = append(l.sym.Defaults, e)
			}
		case reDepends.MatchString(line):
			if l.cur != nil {
				*l.cur = append(*l.cur, strings.Join(strings.Fields(reDepends.FindStringSubmatch(line)[1]), " "))
			}
		case word == "menu" || word == "choice":
			l.sym = nil
			l.stack = append(l.stack, frame{kind: word})
			l.cur = &l.stack[len(l.stack)-1].conds
		case reIf.MatchString(line):
			l.stack = append(l.stack, frame{kind: "if", conds: []string{strings.Join(strings.Fields(reIf.FindStringSubmatch(line)[1]), " ")}})
			l.cur, l.sym = nil, nil
		case word == "endif" || word == "endmenu" || word == "endchoice":
			want := map[string]string{"endif": "if", "endmenu": "menu", "endchoice": "choice"}[word]
			if len(l.stack) == 0 || l.stack[len(l.stack)-1].kind != want {
				return fmt.Errorf("kconfig: %s:%d: %s without %s", rel, n, word, want)
			}
			l.stack = l.stack[:len(l.stack)-1]
			l.cur, l.sym = nil, nil
		case reSource.MatchString(line):
			m := reSource.FindStringSubmatch(line)
			p := strings.ReplaceAll(m[2], "$(SRCARCH)", l.arch)
			p = strings.ReplaceAll(p, "$SRCARCH", l.arch)
			if m[1] == "r" {
				p = filepath.Join(filepath.Dir(rel), p)
			}
			if strings.Contains(p, "$") {
				continue // a macro this reader does not know
			}
			matches, _ := filepath.Glob(filepath.Join(l.src, p))
			if len(matches) == 0 && m[1] == "" && !strings.ContainsAny(p, "*?[") {
				return fmt.Errorf("kconfig: %s:%d: sourced file %s does not exist", rel, n, p)
			}
			for _, mm := range matches {
				r, _ := filepath.Rel(l.src, mm)
				if err := l.file(r); err != nil {
					return err
				}
			}
			l.cur, l.sym = nil, nil
		case word == "comment" || word == "mainmenu":
			l.cur, l.sym = nil, nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("kconfig: %s: %w", rel, err)
	}
	return nil
}
