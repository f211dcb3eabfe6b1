package matrix

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/jstemmer/go-junit-report/v2/junit"
	"github.com/kdefer/kdefer/internal/ci"
)

// WriteTable prints the base × stage table, then what every cell that did
// not pass found, the upstream evidence and the anchors that stopped
// matching.
func (m *Matrix) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "%-10s %-10s", "base", "release")
	for _, s := range Stages {
		fmt.Fprintf(w, " %-11s", s)
	}
	fmt.Fprintln(w, " time")
	for _, r := range m.Rows {
		fmt.Fprintf(w, "%-10s %-10s", r.Base, r.Release)
		for _, s := range Stages {
			fmt.Fprintf(w, " %-11s", r.Cell(s).Status)
		}
		fmt.Fprintf(w, " %s\n", time.Duration(r.Seconds*float64(time.Second)).Round(time.Second))
	}
	for _, r := range m.Rows {
		var lines []string
		for _, s := range Stages {
			c := r.Cell(s)
			if c.Status == ci.Pass || c.Status == Upstream && s != ci.StageRender {
				continue
			}
			lines = append(lines, fmt.Sprintf("  %-10s %s: %s", s, c.Status, c.Detail))
		}
		for _, u := range r.Upstream {
			lines = append(lines, fmt.Sprintf("    upstream %-16s %s (probe %s: %s)", u.Name, u.Subject, u.Probe, u.Evidence))
		}
		for _, a := range r.Anchors {
			lines = append(lines, fmt.Sprintf("    anchor: patch %s, %s, edit %d: %s", a.Patch, a.File, a.Edit, a.What))
			for _, l := range strings.Split(a.Anchor, "\n") {
				lines = append(lines, "      | "+l)
			}
			lines = append(lines, "    nearest candidates:")
			for _, c := range a.Candidates {
				lines = append(lines, "      "+c)
			}
		}
		if len(lines) > 0 {
			fmt.Fprintf(w, "%s (Linux %s):\n%s\n", r.Base, r.Release, strings.Join(lines, "\n"))
		}
	}
}

// JSON is the matrix as JSON (what Join reads).
func (m *Matrix) JSON() ([]byte, error) { return json.MarshalIndent(m, "", "  ") }

// Join reads matrices written by JSON (one per runner) and joins their
// rows, sorted by base.
func Join(files []string) (*Matrix, error) {
	out := &Matrix{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var m Matrix
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%s: not a matrix JSON file: %w", f, err)
		}
		if out.Start.IsZero() || m.Start.Before(out.Start) {
			out.Start = m.Start
		}
		out.Seconds += m.Seconds
		if out.Options == "" {
			out.Options = m.Options
		}
		// Files written before rows were timed have a zero row time;
		// a one-row file's total is that row's time.
		if len(m.Rows) == 1 && m.Rows[0].Seconds == 0 {
			m.Rows[0].Seconds = m.Seconds
		}
		out.Rows = append(out.Rows, m.Rows...)
	}
	sort.SliceStable(out.Rows, func(i, j int) bool { return out.Rows[i].Base < out.Rows[j].Base })
	return out, nil
}

// JUnit is the matrix as JUnit XML: a suite per base, a case per stage.
// Upstream stages pass (with what was found in system-out); unsupported
// and not-run stages are skipped with their reason.
func (m *Matrix) JUnit() ([]byte, error) {
	all := junit.Testsuites{Name: "kcheck matrix", Time: secs(m.Seconds)}
	for _, r := range m.Rows {
		s := junit.Testsuite{Name: "linux-" + r.Base, ID: len(all.Suites), Time: secs(r.Seconds)}
		for _, st := range Stages {
			c := r.Cell(st)
			text := c.Complete
			if text == "" {
				text = c.Detail
			}
			jc := junit.Testcase{Name: st, Classname: "matrix.linux-" + r.Base, Time: secs(c.Seconds)}
			switch c.Status {
			case ci.Pass, Upstream:
				jc.SystemOut = &junit.Output{Data: c.Status + ": " + text}
			case ci.Fail:
				jc.Failure = &junit.Result{Message: c.Detail, Data: text}
			case ci.Error:
				jc.Error = &junit.Result{Message: c.Detail, Data: text}
			default:
				jc.Skipped = &junit.Result{Message: c.Status + ": " + c.Detail}
			}
			s.AddTestcase(jc)
		}
		all.AddSuite(s)
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if err := all.WriteXML(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

var page = template.Must(template.New("matrix").Funcs(template.FuncMap{"class": cssClass}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>kdefer: the series on every base</title>
<style>
body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #999;padding:.3em .6em;text-align:left;vertical-align:top}
.pass{background:#cfc}.fail{background:#fcc}.error{background:#fc9}
.upstream{background:#cdf}.unsupported{background:#eee}.not{background:#f7f7f7;color:#666}
pre{margin:.2em 0;white-space:pre-wrap}
</style></head><body>
<h1>The deferred unwinding series on every base</h1>
<p>{{len .Rows}} bases, {{printf "%.0f" .Seconds}} s{{if .Options}}, {{.Options}}{{end}}; started {{.Start.Format "2006-01-02 15:04 MST"}}.</p>
<table><tr><th>base</th><th>release</th>{{range $.Stages}}<th>{{.}}</th>{{end}}</tr>
{{range $r := .Rows}}<tr><th>{{$r.Base}}</th><td>{{$r.Release}}</td>{{range $.Stages}}{{with $r.Cell .}}<td class="{{class .Status}}" title="{{.Detail}}">{{.Status}}</td>{{end}}{{end}}</tr>
{{end}}</table>
{{range $r := .Rows}}<h2>{{$r.Base}} (Linux {{$r.Release}})</h2><ul>
{{range $.Stages}}{{with $r.Cell .}}<li><b>{{.Stage}}</b> {{.Status}}{{if .Detail}}: {{.Detail}}{{end}}{{if .Complete}}<pre>{{.Complete}}</pre>{{end}}</li>{{end}}{{end}}</ul>
{{if $r.Upstream}}<p>Already upstream:</p><ul>{{range $r.Upstream}}<li>{{.Name}}: {{.Subject}} <i>(probe {{.Probe}}: {{.Evidence}})</i></li>{{end}}</ul>{{end}}
{{range $r.Anchors}}<p>Anchor that stopped matching: patch <b>{{.Patch}}</b>, {{.File}}, edit {{.Edit}}: {{.What}}</p><pre>{{.Anchor}}</pre><p>Nearest candidates:</p><pre>{{range .Candidates}}{{.}}
{{end}}</pre>{{end}}
{{end}}</body></html>
`))

// HTML writes the matrix as one static page.
func (m *Matrix) HTML(w io.Writer) error {
	return page.Execute(w, struct {
		*Matrix
		Stages []string
	}{m, Stages})
}

func cssClass(status string) string {
	if status == ci.NotRun {
		return "not"
	}
	return status
}

func secs(s float64) string { return fmt.Sprintf("%.3f", s) }
