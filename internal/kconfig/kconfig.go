// Package kconfig reads and writes kernel configurations (.config files
// and fragments such as Kconfig.frag), merges a fragment over a
// configuration, and, when olddefconfig dropped an option that was
// asked for, explains why from the tree's own Kconfig files: the
// option's full dependency (its "depends on" lines, the enclosing "if"
// blocks and the "depends on" of the enclosing menus and choices) and
// the symbols in it that are not set.
//
// The Kconfig reader follows "source" from the top-level Kconfig with
// $(SRCARCH) set, like scripts/kconfig does, so only the architecture's
// own definitions count. It reads the structure that decides visibility
// (config, menuconfig, choice, menu, if, depends on, source) and nothing
// else: default and select rules do not make an option impossible.
package kconfig

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Config is a parsed configuration: symbol (with its CONFIG_ prefix) to
// value, "n" for "# CONFIG_X is not set", in the order of first mention.
type Config struct {
	Values map[string]string
	Order  []string
}

var (
	reSet   = regexp.MustCompile(`^(CONFIG_[A-Za-z0-9_]+)=(.*)$`)
	reUnset = regexp.MustCompile(`^# (CONFIG_[A-Za-z0-9_]+) is not set$`)
)

// Parse reads .config or fragment text. Any line that is neither an
// assignment, a "not set" line, a comment nor blank is an error naming
// the line.
func Parse(text string) (*Config, error) {
	c := &Config{Values: map[string]string{}}
	for i, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if s := reSet.FindStringSubmatch(l); s != nil {
			c.set(s[1], s[2])
			continue
		}
		if s := reUnset.FindStringSubmatch(l); s != nil {
			c.set(s[1], "n")
			continue
		}
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		return nil, fmt.Errorf("line %d: %q is not CONFIG_X=value or \"# CONFIG_X is not set\"", i+1, l)
	}
	return c, nil
}

// ParseFile is Parse of a file; errors name the file.
func ParseFile(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func (c *Config) set(k, v string) {
	if _, ok := c.Values[k]; !ok {
		c.Order = append(c.Order, k)
	}
	c.Values[k] = v
}

// Get returns the value of sym (with or without its CONFIG_ prefix),
// without the quotes of a string value; "n" when it is not set.
func (c *Config) Get(sym string) string {
	if !strings.HasPrefix(sym, "CONFIG_") {
		sym = "CONFIG_" + sym
	}
	v, ok := c.Values[sym]
	if !ok || v == "" {
		return "n"
	}
	return strings.Trim(v, `"`)
}

// Enabled reports whether sym is y or m.
func (c *Config) Enabled(sym string) bool {
	v := c.Get(sym)
	return v == "y" || v == "m"
}

// Merge returns the .config text base with every option of want set to
// want's value (appended in want's order; base's lines for those
// options are removed), ready for olddefconfig.
func Merge(base string, want *Config) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(base, "\n"), "\n") {
		t := strings.TrimSpace(l)
		if s := reSet.FindStringSubmatch(t); s != nil {
			if _, ok := want.Values[s[1]]; ok {
				continue
			}
		} else if s := reUnset.FindStringSubmatch(t); s != nil {
			if _, ok := want.Values[s[1]]; ok {
				continue
			}
		}
		b.WriteString(l + "\n")
	}
	for _, k := range want.Order {
		if want.Values[k] == "n" {
			fmt.Fprintf(&b, "# %s is not set\n", k)
		} else {
			fmt.Fprintf(&b, "%s=%s\n", k, want.Values[k])
		}
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// Dropped is an option that the final configuration does not hold as
// asked.
type Dropped struct {
	Option  string   // CONFIG_FOO
	Want    string   // requested value
	Got     string   // final value ("n" when unset)
	Depends string   // its full dependency, when the Kconfig files were read
	Where   string   // file:line of its definition
	Unmet   []string // symbols of Depends that are not set
}

// Compare lists the options of want that got does not hold.
func Compare(got, want *Config) []Dropped {
	var out []Dropped
	for _, k := range want.Order {
		w, g := want.Values[k], got.Values[k]
		if g == "" {
			g = "n"
		}
		if w == g || strings.Trim(w, `"`) == strings.Trim(g, `"`) {
			continue
		}
		out = append(out, Dropped{Option: k, Want: w, Got: g})
	}
	return out
}

// Explain fills Depends, Where and Unmet of each dropped option from the
// Kconfig files of the source tree src for arch (SRCARCH, e.g. "x86"),
// judged against the final configuration got.
func Explain(src, arch string, got *Config, dropped []Dropped) error {
	t, err := Load(src, arch)
	if err != nil {
		return err
	}
	for i := range dropped {
		d := &dropped[i]
		sym := t.Symbols[strings.TrimPrefix(d.Option, "CONFIG_")]
		if sym == nil {
			d.Depends = "(no such symbol in this tree's Kconfig for " + arch + ")"
			continue
		}
		d.Depends, d.Where = sym.Depends(), sym.Where
		seen := map[string]bool{}
		for _, loc := range reSym.FindAllStringIndex(d.Depends, -1) {
			tok := d.Depends[loc[0]:loc[1]]
			negated := strings.HasSuffix(strings.TrimRight(d.Depends[:loc[0]], " "), "!")
			if seen[tok] || negated {
				continue
			}
			seen[tok] = true
			if !got.Enabled(tok) {
				d.Unmet = append(d.Unmet, tok)
			}
		}
	}
	return nil
}

var reSym = regexp.MustCompile(`\b[A-Z0-9_]*[A-Z][A-Z0-9_]*\b`)
