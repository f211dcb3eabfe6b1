package stepbuild

import (
	"fmt"
	"io"
	"strings"

	"github.com/kdefer/kdefer/internal/workspace"
)

// WriteText writes the patch × configuration table and the breaks.
func (r *Result) WriteText(w io.Writer, s *workspace.Series, configs []Config) {
	if configs == nil {
		configs = DefaultConfigs()
	}
	const width = 40
	fmt.Fprintf(w, "%-*s", width, "patch")
	for _, c := range configs {
		fmt.Fprintf(w, " %-10s", "build:"+c.Name)
	}
	fmt.Fprintln(w)
	for i := 0; i <= len(s.Patches); i++ {
		label := "00 base"
		if i > 0 {
			label = s.Label(i)
		}
		if len([]rune(label)) > width {
			label = string([]rune(label)[:width-1]) + "…"
		}
		fmt.Fprintf(w, "%-*s", width, label)
		for _, c := range configs {
			st := "-"
			if x := r.At(c.Name, i); x != nil {
				st = x.Status
			}
			fmt.Fprintf(w, " %-10s", st)
		}
		fmt.Fprintln(w)
	}
	for _, c := range configs {
		for i := 1; i <= len(s.Patches); i++ {
			if st := r.At(c.Name, i); st != nil && len(st.Forced) > 0 {
				fmt.Fprintf(w, "[%s] %s: compiled alone, the symbol forced: %s\n", c.Name, s.Label(i), strings.Join(st.Forced, " "))
			}
		}
	}
	for _, c := range configs {
		if st := r.At(c.Name, len(s.Patches)); st != nil && len(st.NotBuilt) > 0 {
			fmt.Fprintf(w, "[%s] does not build (not in its configuration): %s\n", c.Name, strings.Join(st.NotBuilt, " "))
		}
	}
	for _, b := range r.Breaks {
		fmt.Fprintf(w, "\nFIRST %s [%s] at %s:\n  %s\n", strings.ToUpper(b.Kind), b.Config, s.Label(b.Patch),
			strings.ReplaceAll(b.Message, "\n", "\n  "))
	}
	verdict := "PASS"
	if r.Failed() {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "build --each: %d patches x %d configurations in %s: %s\n", len(s.Patches), len(configs),
		r.Elapsed.Round(1e9), verdict)
}
