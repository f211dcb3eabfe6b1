package formatpatch

import (
	"bytes"
	"fmt"
	"strings"
)

// The diff follows git's xdiff closely enough to give the same hunks in
// the common cases: Myers' algorithm for a shortest edit script, then
// xdiff's change compaction (groups slid to line up with the other side,
// else placed by the indent heuristic that git uses by default), then
// hunks with 3 lines of context merged when at most 6 lines apart, and
// git's default function-name rule for the hunk header.

// line records: each line keeps its "\n" (the last one may lack it).
func splitRecs(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, string(b))
			break
		}
		out = append(out, string(b[:i+1]))
		b = b[i+1:]
	}
	return out
}

// xfile is one side of a diff: records and change flags with sentinels
// (rchg[-1] and rchg[n] are false), as xdiff has them.
type xfile struct {
	recs []string
	chg  []bool // len n+2, chg[i+1] is line i
}

func (f *xfile) n() int              { return len(f.recs) }
func (f *xfile) rchg(i int) bool     { return f.chg[i+1] }
func (f *xfile) set(i int, v bool)   { f.chg[i+1] = v }
func (f *xfile) match(i, j int) bool { return f.recs[i] == f.recs[j] }

// myers marks the lines of a and b that are not in the common
// subsequence, the way git's xdiff does it: common head and tail
// trimmed, lines without a counterpart (and runs of lines frequent on
// the other side that sit among them) set aside, then Myers' divide and
// conquer with xdiff's cost heuristics on the rest.
func myers(a, b *xfile) {
	n1, n2 := a.n(), b.n()
	ids := map[string]int32{}
	ha, hb := make([]int32, n1), make([]int32, n2)
	var cnt1, cnt2 []int
	intern := func(s string) int32 {
		id, ok := ids[s]
		if !ok {
			id = int32(len(ids))
			ids[s] = id
			cnt1 = append(cnt1, 0)
			cnt2 = append(cnt2, 0)
		}
		return id
	}
	for i, s := range a.recs {
		ha[i] = intern(s)
		cnt1[ha[i]]++
	}
	for i, s := range b.recs {
		hb[i] = intern(s)
		cnt2[hb[i]]++
	}
	// common head and tail
	start := 0
	for start < n1 && start < n2 && ha[start] == hb[start] {
		start++
	}
	tail := 0
	for tail < min(n1, n2)-start && ha[n1-1-tail] == hb[n2-1-tail] {
		tail++
	}
	end1, end2 := n1-1-tail, n2-1-tail // inclusive

	keep := func(f *xfile, h []int32, other []int, end int) []int {
		lim := min(bogosqrt(f.n()), 1024)
		dis := make([]byte, f.n()+1)
		for i := start; i <= end; i++ {
			switch nm := other[h[i]]; {
			case nm == 0:
				dis[i] = 0
			case nm >= lim:
				dis[i] = 2
			default:
				dis[i] = 1
			}
		}
		var idx []int
		for i := start; i <= end; i++ {
			if dis[i] == 1 || dis[i] == 2 && !discardMulti(dis, i, start, end) {
				idx = append(idx, i)
			} else {
				f.set(i, true)
			}
		}
		return idx
	}
	r1 := keep(a, ha, cnt2, end1)
	r2 := keep(b, hb, cnt1, end2)
	d := &xdiff{a: a, b: b, r1: r1, r2: r2}
	d.h1 = make([]int32, len(r1))
	for i, x := range r1 {
		d.h1[i] = ha[x]
	}
	d.h2 = make([]int32, len(r2))
	for i, x := range r2 {
		d.h2[i] = hb[x]
	}
	ndiags := len(r1) + len(r2) + 3
	d.kf = make([]int, 2*ndiags+2)
	d.kb = make([]int, 2*ndiags+2)
	d.off = len(r2) + 1
	d.maxCost = max(bogosqrt(ndiags), 256)
	d.compare(0, len(r1), 0, len(r2), false)
}

func bogosqrt(n int) int {
	i := 1
	for ; n > 0; n >>= 2 {
		i <<= 1
	}
	return i
}

// discardMulti decides whether line i, which has many matches on the
// other side, is set aside because it sits in a run of lines without
// matches (xdiff's xdl_clean_mmatch).
func discardMulti(dis []byte, i, s, e int) bool {
	const window, kpdis = 100, 4
	s = max(s, i-window)
	e = min(e, i+window)
	none0, multi0 := 0, 1
	for r := 1; i-r >= s; r++ {
		if dis[i-r] == 0 {
			none0++
		} else if dis[i-r] == 2 {
			multi0++
		} else {
			break
		}
	}
	if none0 == 0 {
		return false
	}
	none1, multi1 := 0, 1
	for r := 1; i+r <= e; r++ {
		if dis[i+r] == 0 {
			none1++
		} else if dis[i+r] == 2 {
			multi1++
		} else {
			break
		}
	}
	if none1 == 0 {
		return false
	}
	none, multi := none0+none1, multi0+multi1
	return multi*kpdis < multi+none
}

// xdiff is the state of the divide-and-conquer Myers search over the
// kept lines (r1, r2 map them back to file lines).
type xdiff struct {
	a, b    *xfile
	r1, r2  []int
	h1, h2  []int32
	kf, kb  []int // forward and backward furthest x per diagonal (+off)
	off     int
	maxCost int
}

const (
	snakeCnt = 20
	heurMin  = 256
	kHeur    = 4
	lineMax  = int(^uint(0) >> 1)
)

func (d *xdiff) compare(off1, lim1, off2, lim2 int, needMin bool) {
	for off1 < lim1 && off2 < lim2 && d.h1[off1] == d.h2[off2] {
		off1++
		off2++
	}
	for off1 < lim1 && off2 < lim2 && d.h1[lim1-1] == d.h2[lim2-1] {
		lim1--
		lim2--
	}
	switch {
	case off1 == lim1:
		for ; off2 < lim2; off2++ {
			d.b.set(d.r2[off2], true)
		}
	case off2 == lim2:
		for ; off1 < lim1; off1++ {
			d.a.set(d.r1[off1], true)
		}
	default:
		x, y, minLo, minHi := d.split(off1, lim1, off2, lim2, needMin)
		d.compare(off1, x, off2, y, minLo)
		d.compare(x, lim1, y, lim2, minHi)
	}
}

// split finds where to cut the box (off1..lim1, off2..lim2): the middle
// snake of a shortest edit script, or, when the search gets expensive
// and needMin is false, a good-enough point.
func (d *xdiff) split(off1, lim1, off2, lim2 int, needMin bool) (int, int, bool, bool) {
	kf := func(k int) *int { return &d.kf[k+d.off] }
	kb := func(k int) *int { return &d.kb[k+d.off] }
	dmin, dmax := off1-lim2, lim1-off2
	fmid, bmid := off1-off2, lim1-lim2
	odd := (fmid-bmid)&1 != 0
	fmin, fmax, bmin, bmax := fmid, fmid, bmid, bmid
	*kf(fmid) = off1
	*kb(bmid) = lim1
	// widen extends one search's diagonals [lo, hi] by one on each side
	// where the edit graph allows, else narrows it, marking the new
	// outermost diagonals with fill (as xdl_split does for both).
	widen := func(lo, hi *int, kv func(int) *int, fill int) {
		if *lo > dmin {
			*lo--
			*kv(*lo - 1) = fill
		} else {
			*lo++
		}
		if *hi < dmax {
			*hi++
			*kv(*hi + 1) = fill
		} else {
			*hi--
		}
	}
	for ec := 1; ; ec++ {
		gotSnake := false
		widen(&fmin, &fmax, kf, -1)
		for k := fmax; k >= fmin; k -= 2 {
			var x int
			if *kf(k - 1) >= *kf(k + 1) {
				x = *kf(k - 1) + 1
			} else {
				x = *kf(k + 1)
			}
			x0 := x
			y := x - k
			for x < lim1 && y < lim2 && d.h1[x] == d.h2[y] {
				x++
				y++
			}
			if x-x0 > snakeCnt {
				gotSnake = true
			}
			*kf(k) = x
			if odd && bmin <= k && k <= bmax && *kb(k) <= x {
				return x, y, true, true
			}
		}
		widen(&bmin, &bmax, kb, lineMax)
		for k := bmax; k >= bmin; k -= 2 {
			var x int
			if *kb(k - 1) < *kb(k + 1) {
				x = *kb(k - 1)
			} else {
				x = *kb(k + 1) - 1
			}
			x0 := x
			y := x - k
			for x > off1 && y > off2 && d.h1[x-1] == d.h2[y-1] {
				x--
				y--
			}
			if x0-x > snakeCnt {
				gotSnake = true
			}
			*kb(k) = x
			if !odd && fmin <= k && k <= fmax && x <= *kf(k) {
				return x, y, true, true
			}
		}
		if needMin {
			continue
		}
		if gotSnake && ec > heurMin {
			best, bx, by := 0, 0, 0
			for k := fmax; k >= fmin; k -= 2 {
				dd := abs(k - fmid)
				x := *kf(k)
				y := x - k
				v := (x - off1) + (y - off2) - dd
				if v > kHeur*ec && v > best && off1+snakeCnt <= x && x < lim1 && off2+snakeCnt <= y && y < lim2 {
					for j := 1; d.h1[x-j] == d.h2[y-j]; j++ {
						if j == snakeCnt {
							best, bx, by = v, x, y
							break
						}
					}
				}
			}
			if best > 0 {
				return bx, by, true, false
			}
			best = 0
			for k := bmax; k >= bmin; k -= 2 {
				dd := abs(k - bmid)
				x := *kb(k)
				y := x - k
				v := (lim1 - x) + (lim2 - y) - dd
				if v > kHeur*ec && v > best && off1 < x && x <= lim1-snakeCnt && off2 < y && y <= lim2-snakeCnt {
					for j := 0; d.h1[x+j] == d.h2[y+j]; j++ {
						if j == snakeCnt-1 {
							best, bx, by = v, x, y
							break
						}
					}
				}
			}
			if best > 0 {
				return bx, by, false, true
			}
		}
		if ec >= d.maxCost {
			fbest, fx := -1, -1
			for k := fmax; k >= fmin; k -= 2 {
				x := min(*kf(k), lim1)
				y := x - k
				if lim2 < y {
					x, y = lim2+k, lim2
				}
				if fbest < x+y {
					fbest, fx = x+y, x
				}
			}
			bbest, bx := lineMax, lineMax
			for k := bmax; k >= bmin; k -= 2 {
				x := max(off1, *kb(k))
				y := x - k
				if y < off2 {
					x, y = off2+k, off2
				}
				if x+y < bbest {
					bbest, bx = x+y, x
				}
			}
			if (lim1+lim2)-bbest < fbest-(off1+off2) {
				return fx, fbest - fx, true, false
			}
			return bx, bbest - bx, false, true
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// ---- change compaction (xdl_change_compact) ----

type group struct{ start, end int }

func groupInit(f *xfile) group {
	g := group{}
	for f.rchg(g.end) {
		g.end++
	}
	return g
}

func groupNext(f *xfile, g *group) bool {
	if g.end == f.n() {
		return false
	}
	g.start = g.end + 1
	g.end = g.start
	for f.rchg(g.end) {
		g.end++
	}
	return true
}

func groupPrev(f *xfile, g *group) bool {
	if g.start == 0 {
		return false
	}
	g.end = g.start - 1
	g.start = g.end
	for f.rchg(g.start - 1) {
		g.start--
	}
	return true
}

func slideDown(f *xfile, g *group) bool {
	if g.end < f.n() && f.match(g.start, g.end) {
		f.set(g.start, false)
		g.start++
		f.set(g.end, true)
		g.end++
		for f.rchg(g.end) {
			g.end++
		}
		return true
	}
	return false
}

func slideUp(f *xfile, g *group) bool {
	if g.start > 0 && f.match(g.start-1, g.end-1) {
		g.start--
		f.set(g.start, true)
		g.end--
		f.set(g.end, false)
		for f.rchg(g.start - 1) {
			g.start--
		}
		return true
	}
	return false
}

const (
	maxIndent                       = 200
	maxBlanks                       = 20
	startOfFilePenalty              = 1
	endOfFilePenalty                = 21
	totalBlankWeight                = -30
	postBlankWeight                 = 6
	relativeIndentPenalty           = -4
	relativeIndentWithBlankPenalty  = 10
	relativeOutdentPenalty          = 24
	relativeOutdentWithBlankPenalty = 17
	relativeDedentPenalty           = 23
	relativeDedentWithBlankPenalty  = 17
	indentWeight                    = 60
	indentHeuristicMaxSliding       = 100
)

func getIndent(s string) int {
	ret := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			return ret
		}
		if c == ' ' {
			ret++
		} else if c == '\t' {
			ret += 8 - ret%8
		}
		if ret >= maxIndent {
			return maxIndent
		}
	}
	return -1
}

type splitMeasure struct {
	eof                                          bool
	indent, preBlank, preIndent, postBlank, post int
}

func measureSplit(f *xfile, split int) splitMeasure {
	var m splitMeasure
	if split >= f.n() {
		m.eof = true
		m.indent = -1
	} else {
		m.indent = getIndent(f.recs[split])
	}
	m.preIndent, m.preBlank = f.nearestIndent(split-1, -1)
	m.post, m.postBlank = f.nearestIndent(split+1, 1)
	return m
}

// nearestIndent walks from line i in direction step (-1 up, 1 down) to
// the first line that is not blank and returns its indent (-1: none
// before the file ends; 0 after maxBlanks blank lines) and the number
// of blank lines passed.
func (f *xfile) nearestIndent(i, step int) (indent, blanks int) {
	indent = -1
	for ; i >= 0 && i < f.n(); i += step {
		if indent = getIndent(f.recs[i]); indent != -1 {
			return indent, blanks
		}
		blanks++
		if blanks == maxBlanks {
			return 0, blanks
		}
	}
	return indent, blanks
}

type splitScore struct{ effIndent, penalty int }

func scoreAddSplit(m splitMeasure, s *splitScore) {
	if m.preIndent == -1 && m.preBlank == 0 {
		s.penalty += startOfFilePenalty
	}
	if m.eof {
		s.penalty += endOfFilePenalty
	}
	postBlank := 0
	if m.indent == -1 {
		postBlank = 1 + m.postBlank
	}
	totalBlank := m.preBlank + postBlank
	s.penalty += totalBlankWeight * totalBlank
	s.penalty += postBlankWeight * postBlank
	indent := m.indent
	if indent == -1 {
		indent = m.post
	}
	any := totalBlank != 0
	s.effIndent += indent
	switch {
	case indent == -1, m.preIndent == -1:
	case indent > m.preIndent:
		if any {
			s.penalty += relativeIndentWithBlankPenalty
		} else {
			s.penalty += relativeIndentPenalty
		}
	case indent == m.preIndent:
	default:
		if m.post != -1 && m.post > indent {
			if any {
				s.penalty += relativeOutdentWithBlankPenalty
			} else {
				s.penalty += relativeOutdentPenalty
			}
		} else {
			if any {
				s.penalty += relativeDedentWithBlankPenalty
			} else {
				s.penalty += relativeDedentPenalty
			}
		}
	}
}

func scoreCmp(a, b splitScore) int {
	c := 0
	if a.effIndent > b.effIndent {
		c = 1
	} else if a.effIndent < b.effIndent {
		c = -1
	}
	return indentWeight*c + (a.penalty - b.penalty)
}

func compact(f, fo *xfile) {
	g, og := groupInit(f), groupInit(fo)
	for {
		if g.end != g.start {
			var groupsize, earliestEnd int
			endMatchingOther := -1
			for {
				groupsize = g.end - g.start
				endMatchingOther = -1
				for slideUp(f, &g) {
					if !groupPrev(fo, &og) {
						panic("diff: group sync broken sliding up")
					}
				}
				earliestEnd = g.end
				if og.end > og.start {
					endMatchingOther = g.end
				}
				for slideDown(f, &g) {
					if !groupNext(fo, &og) {
						panic("diff: group sync broken sliding down")
					}
					if og.end > og.start {
						endMatchingOther = g.end
					}
				}
				if groupsize == g.end-g.start {
					break
				}
			}
			if g.end == earliestEnd {
				// no shifting possible
			} else if endMatchingOther != -1 {
				for og.end == og.start {
					if !slideUp(f, &g) || !groupPrev(fo, &og) {
						panic("diff: match disappeared")
					}
				}
			} else {
				shift := earliestEnd
				if g.end-groupsize-1 > shift {
					shift = g.end - groupsize - 1
				}
				if g.end-indentHeuristicMaxSliding > shift {
					shift = g.end - indentHeuristicMaxSliding
				}
				bestShift := -1
				var best splitScore
				for ; shift <= g.end; shift++ {
					var sc splitScore
					scoreAddSplit(measureSplit(f, shift), &sc)
					scoreAddSplit(measureSplit(f, shift-groupsize), &sc)
					if bestShift == -1 || scoreCmp(sc, best) <= 0 {
						best = sc
						bestShift = shift
					}
				}
				for g.end > bestShift {
					if !slideUp(f, &g) || !groupPrev(fo, &og) {
						panic("diff: best shift unreached")
					}
				}
			}
		}
		if !groupNext(f, &g) {
			break
		}
		if !groupNext(fo, &og) {
			panic("diff: group sync broken moving to next group")
		}
	}
}

// change is a hunk-less change: a[i1:i1+n1] replaced by b[i2:i2+n2].
type change struct{ i1, n1, i2, n2 int }

func diffRecs(a, b []string) (*xfile, *xfile, []change) {
	fa := &xfile{recs: a, chg: make([]bool, len(a)+2)}
	fb := &xfile{recs: b, chg: make([]bool, len(b)+2)}
	myers(fa, fb)
	compact(fa, fb)
	compact(fb, fa)
	var rev []change
	i1, i2 := fa.n(), fb.n()
	for i1 >= 0 || i2 >= 0 {
		if fa.rchg(i1-1) || fb.rchg(i2-1) {
			l1, l2 := i1, i2
			for fa.rchg(i1 - 1) {
				i1--
			}
			for fb.rchg(i2 - 1) {
				i2--
			}
			rev = append(rev, change{i1, l1 - i1, i2, l2 - i2})
		}
		i1--
		i2--
	}
	out := make([]change, len(rev))
	for i := range rev {
		out[i] = rev[len(rev)-1-i]
	}
	return fa, fb, out
}

const ctxLines = 3

// funcName is git's default hunk-header rule: a line starting with a
// letter, '_' or '$', cut to 80 bytes, trailing white space removed.
func funcName(rec string) (string, bool) {
	if rec == "" {
		return "", false
	}
	c := rec[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$') {
		return "", false
	}
	if len(rec) > 80 {
		rec = rec[:80]
	}
	return strings.TrimRight(rec, " \t\n\r\f\v"), true
}

// unified writes the hunks of the diff between a and b and returns the
// numbers of added and deleted lines.
func unified(w *bytes.Buffer, a, b []byte) (add, del int) {
	ra, rb := splitRecs(a), splitRecs(b)
	_, _, chs := diffRecs(ra, rb)
	funcPrev := -1
	fn := ""
	emit := func(prefix byte, rec string) {
		w.WriteByte(prefix)
		w.WriteString(rec)
		if !strings.HasSuffix(rec, "\n") {
			w.WriteString("\n\\ No newline at end of file\n")
		}
	}
	for i := 0; i < len(chs); {
		// xdl_get_hunk: merge changes at most 2*ctx apart
		j := i
		for j+1 < len(chs) && chs[j+1].i1-(chs[j].i1+chs[j].n1) <= 2*ctxLines {
			j++
		}
		first, last := chs[i], chs[j]
		s1 := max(first.i1-ctxLines, 0)
		s2 := max(first.i2-ctxLines, 0)
		lctx := min(ctxLines, len(ra)-(last.i1+last.n1), len(rb)-(last.i2+last.n2))
		e1 := last.i1 + last.n1 + lctx
		e2 := last.i2 + last.n2 + lctx
		for l := s1 - 1; l != funcPrev && l >= 0 && l < len(ra); l-- {
			if name, ok := funcName(ra[l]); ok {
				fn = name
				break
			}
		}
		funcPrev = s1 - 1
		w.WriteString("@@ -")
		writeRange(w, s1, e1-s1)
		w.WriteString(" +")
		writeRange(w, s2, e2-s2)
		w.WriteString(" @@")
		if fn != "" {
			w.WriteByte(' ')
			w.WriteString(fn)
		}
		w.WriteByte('\n')
		p1 := s1
		for k := i; k <= j; k++ {
			c := chs[k]
			for ; p1 < c.i1; p1++ {
				emit(' ', ra[p1])
			}
			for l := c.i1; l < c.i1+c.n1; l++ {
				emit('-', ra[l])
			}
			for l := c.i2; l < c.i2+c.n2; l++ {
				emit('+', rb[l])
			}
			del += c.n1
			add += c.n2
			p1 = c.i1 + c.n1
		}
		for ; p1 < e1; p1++ {
			emit(' ', ra[p1])
		}
		i = j + 1
	}
	return add, del
}

func writeRange(w *bytes.Buffer, s, c int) {
	if c == 0 {
		fmt.Fprintf(w, "%d,0", s)
		return
	}
	fmt.Fprintf(w, "%d", s+1)
	if c != 1 {
		fmt.Fprintf(w, ",%d", c)
	}
}
