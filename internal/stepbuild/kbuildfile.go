package stepbuild

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

var reObj = regexp.MustCompile(`^obj-(y|\$\((CONFIG_[A-Za-z0-9_]+)\))\s*[:+]?=\s*(.*)$`)

// objEntries parses the obj-y / obj-$(CONFIG_X) lines of a kbuild
// makefile: object or subdirectory name -> the CONFIG symbol that guards
// it ("" for obj-y). Conditionals (ifeq blocks) are not evaluated.
func objEntries(text string) map[string]string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	m := map[string]string{}
	for _, l := range strings.Split(text, "\n") {
		g := reObj.FindStringSubmatch(strings.TrimSpace(l))
		if g == nil {
			continue
		}
		for _, w := range strings.Fields(g[3]) {
			if strings.HasPrefix(w, "#") {
				break
			}
			if _, seen := m[w]; !seen || g[2] == "" {
				m[w] = g[2]
			}
		}
	}
	return m
}

// inConfig reports whether the .c file rel of tree is built into vmlinux
// with the configuration cfg (CONFIG_X -> value): its object must be
// listed in its directory's Kbuild/Makefile under obj-y or an obj-$(CONFIG)
// that is y, and so must each directory up to a top-level one.
func inConfig(tree string, cfg map[string]string, rel string) bool {
	dir := path.Dir(rel)
	name := strings.TrimSuffix(path.Base(rel), ".c") + ".o"
	for {
		var text []byte
		var err error
		for _, f := range []string{"Kbuild", "Makefile"} {
			if text, err = os.ReadFile(filepath.Join(tree, dir, f)); err == nil {
				break
			}
		}
		if err != nil {
			return false
		}
		cond, ok := objEntries(string(text))[name]
		if !ok {
			return false
		}
		if cond != "" && cfg[cond] != "y" {
			return false
		}
		if !strings.Contains(dir, "/") || dir == "arch/x86" {
			return true
		}
		name = path.Base(dir) + "/"
		dir = path.Dir(dir)
	}
}
