package kerneltree

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/kdefer/kdefer/internal/aptsrc"
)

// Suites are the Debian suites searched for linux-source packages, in the
// order that breaks ties between equal releases (after the machine's own
// apt sources, which come first). The security suites live on the
// security archive (see aptsrc.DeriveSourcesList).
var Suites = []string{
	"unstable",
	"experimental",
	"trixie",
	"trixie-security",
	"trixie-backports",
	"bookworm",
	"bookworm-security",
	"bookworm-backports",
}

// Offer is one linux-source package version that a suite offers.
type Offer struct {
	Suite string // "trixie-backports", or "" for the machine's apt sources
	pkgVersion
	src *apt
}

// SuiteError says that a suite could not be asked (no network, a suite
// that the mirror lacks).
type SuiteError struct {
	Suite string
	Err   error
}

func (e SuiteError) Error() string { return e.Suite + ": " + e.Err.Error() }

// Available lists every linux-source package version in Suites, one
// private apt state per suite under the cache (lists refreshed when older
// than a day, or always with o.Refresh). Suites that could not be asked are
// returned as errors beside the offers of the others. The result is
// sorted newest release first.
func Available(ctx context.Context, o Options) ([]Offer, []SuiteError, error) {
	cache := o.CacheDir
	if cache == "" {
		cache = CacheDir()
	}
	progress := o.Progress
	if progress == nil {
		progress = noProgress
	}
	offers, serrs, err := available(ctx, cache, o, Request{Major: -1, Minor: -1, Patch: -1}, progress)
	if err != nil {
		return nil, nil, err
	}
	sortOffers(offers)
	return offers, serrs, nil
}

// available asks every suite (four at a time) for the versions matching r;
// Major -1 matches every linux-source-X.Y.
func available(ctx context.Context, cache string, o Options, r Request, progress func(string, ...any)) ([]Offer, []SuiteError, error) {
	etc := o.AptEtc
	if etc == "" {
		etc = "/etc/apt"
	}
	entries, err := aptsrc.ReadSources(etc)
	if err != nil {
		return nil, nil, err
	}
	type result struct {
		offers []Offer
		err    error
	}
	results := make([]result, len(Suites))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, suite := range Suites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			a, err := privateApt(cache, entries, suite)
			if err == nil {
				err = a.update(ctx, o.Refresh, progress)
			}
			var vs []pkgVersion
			if err == nil {
				vs, err = a.candidates(ctx, r)
			}
			for _, v := range vs {
				results[i].offers = append(results[i].offers, Offer{Suite: suite, pkgVersion: v, src: a})
			}
			results[i].err = err
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	var offers []Offer
	var serrs []SuiteError
	for i, res := range results {
		offers = append(offers, res.offers...)
		if res.err != nil {
			serrs = append(serrs, SuiteError{Suite: Suites[i], Err: res.err})
		}
	}
	if len(serrs) == len(Suites) {
		// The same cause everywhere (no Debian entry to derive from, no
		// network): say it once.
		return nil, serrs, fmt.Errorf("no Debian suite could be asked for linux-source packages: %w", serrs[0].Err)
	}
	return offers, serrs, nil
}

// sortOffers orders offers newest release first; a final release comes
// before a release candidate of the same numbers, and equal releases keep
// their order (the machine's sources, then Suites order).
func sortOffers(offers []Offer) {
	sort.SliceStable(offers, func(i, j int) bool {
		return compareRelease(offers[i].Release(), offers[j].Release()) > 0
	})
}

// pick returns the offer a request resolves to: the newest matching
// release, preferring final releases over release candidates unless the
// request names one.
func pick(offers []Offer, r Request) (Offer, bool) {
	var best *Offer
	for i := range offers {
		o := &offers[i]
		if !r.Matches(o.Release()) {
			continue
		}
		if best == nil {
			best = o
			continue
		}
		if c := compareRelease(o.Release(), best.Release()); c > 0 {
			best = o
		}
	}
	if best == nil {
		return Offer{}, false
	}
	return *best, true
}

// suiteErrors joins suite errors for a message.
func suiteErrors(serrs []SuiteError) error {
	var es []error
	for _, e := range serrs {
		es = append(es, e)
	}
	return errors.Join(es...)
}

// SuiteName is what an offer's suite is called in messages.
func (o Offer) SuiteName() string {
	if o.Suite == "" {
		return "the machine's apt sources"
	}
	return "Debian " + o.Suite
}

// describe lists offers as "7.3.4 (trixie-backports)" for messages,
// one entry per release with every suite that has it.
func describe(offers []Offer) string {
	var order []string
	where := map[string][]string{}
	for _, o := range offers {
		name := o.Suite
		if name == "" {
			name = "this machine"
		}
		r := o.Release()
		if _, ok := where[r]; !ok {
			order = append(order, r)
		}
		if !slices.Contains(where[r], name) {
			where[r] = append(where[r], name)
		}
	}
	s := make([]string, len(order))
	for i, r := range order {
		s[i] = r + " (" + strings.Join(where[r], ", ") + ")"
	}
	return strings.Join(s, ", ")
}
