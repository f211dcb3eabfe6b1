package gitapply

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// rawIndex is .git/index (version 2 or 3) kept as bytes, with the offset
// of every entry. kgen replaces the entries of the changed paths and copies
// every other entry byte for byte, so their stat data stay exactly as git
// wrote them. Decoding and re-encoding all 87,000 entries with go-git's
// index package costs about half a second; this costs a few milliseconds.
// The entries kgen writes are encoded by go-git's index encoder.
//
// Version 4 (prefix-compressed names) has no fixed entry boundaries; such
// an index is decoded and encoded whole with go-git (slower, same result).
type rawIndex struct {
	data    []byte
	mtime   time.Time // of the index file (racy-git check)
	version uint32
	offs    []int // entry start offsets; len = entry count
	names   []string
	extOff  int // first byte after the entries
	full    *index.Index
}

const entryFixed = 62 // ctime..flags

func readRawIndex(gitDir string) (*rawIndex, error) {
	p := filepath.Join(gitDir, "index")
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return &rawIndex{version: 2, data: nil, full: &index.Index{Version: 2}}, nil
	}
	if err != nil {
		return nil, err
	}
	if len(data) < 12+20 || string(data[:4]) != "DIRC" {
		return nil, fmt.Errorf("%s: not a git index", p)
	}
	ri := &rawIndex{data: data, version: binary.BigEndian.Uint32(data[4:8])}
	if fi, err := os.Stat(p); err == nil {
		ri.mtime = fi.ModTime()
	}
	if ri.version == 4 {
		if ri.full, err = ReadIndex(gitDir); err != nil {
			return nil, err
		}
		return ri, nil
	}
	if ri.version != 2 && ri.version != 3 {
		return nil, fmt.Errorf("%s: index version %d is not supported", p, ri.version)
	}
	n := int(binary.BigEndian.Uint32(data[8:12]))
	ri.offs = make([]int, 0, n)
	ri.names = make([]string, 0, n)
	off := 12
	end := len(data) - 20
	for i := 0; i < n; i++ {
		if off+entryFixed > end {
			return nil, fmt.Errorf("%s: truncated entry %d", p, i)
		}
		flags := binary.BigEndian.Uint16(data[off+60 : off+62])
		hdr := entryFixed
		if flags&0x4000 != 0 {
			if ri.version < 3 {
				return nil, fmt.Errorf("%s: extended flag in a version 2 index", p)
			}
			hdr += 2
		}
		nul := bytes.IndexByte(data[off+hdr:end], 0)
		if nul < 0 {
			return nil, fmt.Errorf("%s: entry %d has no name terminator", p, i)
		}
		ri.offs = append(ri.offs, off)
		ri.names = append(ri.names, string(data[off+hdr:off+hdr+nul]))
		off += (hdr + nul + 8) &^ 7
	}
	ri.extOff = off
	// Required extensions (lowercase signatures: split index "link",
	// sparse directories "sdir") cannot be carried through.
	for o := off; o+8 <= end; {
		sig := data[o : o+4]
		size := int(binary.BigEndian.Uint32(data[o+4 : o+8]))
		if sig[0] < 'A' || sig[0] > 'Z' {
			return nil, fmt.Errorf("%s: index extension %q is not supported (split or sparse index); run git update-index --no-split-index", p, sig)
		}
		o += 8 + size
	}
	return ri, nil
}

// idxStat is the stat data and flags of an index entry.
type idxStat struct {
	ctimeS, ctimeNS, mtimeS, mtimeNS uint32
	dev, ino, mode, uid, gid, size   uint32
	assumeValid, skipWorktree        bool
}

// stat returns the stat data of the stage-0 entry named path.
func (ri *rawIndex) stat(path string) (idxStat, bool) {
	if ri.full != nil {
		i := findEntry(ri.full, path)
		if i < 0 {
			return idxStat{}, false
		}
		e := ri.full.Entries[i]
		return idxStat{
			ctimeS: uint32(e.CreatedAt.Unix()), ctimeNS: uint32(e.CreatedAt.Nanosecond()),
			mtimeS: uint32(e.ModifiedAt.Unix()), mtimeNS: uint32(e.ModifiedAt.Nanosecond()),
			dev: e.Dev, ino: e.Inode, mode: uint32(e.Mode), uid: e.UID, gid: e.GID, size: e.Size,
			skipWorktree: e.SkipWorktree,
		}, true
	}
	i := ri.find(path)
	if i < 0 {
		return idxStat{}, false
	}
	d := ri.data[ri.offs[i]:]
	u := func(o int) uint32 { return binary.BigEndian.Uint32(d[o : o+4]) }
	flags := binary.BigEndian.Uint16(d[60:62])
	st := idxStat{
		ctimeS: u(0), ctimeNS: u(4), mtimeS: u(8), mtimeNS: u(12),
		dev: u(16), ino: u(20), mode: u(24), uid: u(28), gid: u(32), size: u(36),
		assumeValid: flags&0x8000 != 0,
	}
	if flags&0x4000 != 0 {
		st.skipWorktree = binary.BigEndian.Uint16(d[62:64])&0x4000 != 0
	}
	return st, true
}

// hasAny reports whether the index has an entry named path at any stage.
func (ri *rawIndex) hasAny(path string) bool {
	if ri.full != nil {
		for _, e := range ri.full.Entries {
			if e.Name == path {
				return true
			}
		}
		return false
	}
	return ri.find(path) >= 0
}

// lookup returns the hash and mode of the stage-0 entry named path.
func (ri *rawIndex) lookup(path string) (plumbing.Hash, filemode.FileMode, bool) {
	if ri.full != nil {
		i := findEntry(ri.full, path)
		if i < 0 {
			return plumbing.ZeroHash, 0, false
		}
		e := ri.full.Entries[i]
		return e.Hash, e.Mode, e.Stage == 0
	}
	i := ri.find(path)
	if i < 0 {
		return plumbing.ZeroHash, 0, false
	}
	o := ri.offs[i]
	var h plumbing.Hash
	copy(h[:], ri.data[o+40:o+60])
	mode := filemode.FileMode(binary.BigEndian.Uint32(ri.data[o+24 : o+28]))
	return h, mode, true
}

func (ri *rawIndex) find(path string) int {
	i := sort.SearchStrings(ri.names, path)
	if i < len(ri.names) && ri.names[i] == path {
		return i
	}
	return -1
}

// unmerged reports whether any entry has a non-zero stage.
func (ri *rawIndex) unmerged() bool {
	if ri.full != nil {
		for _, e := range ri.full.Entries {
			if e.Stage != 0 {
				return true
			}
		}
		return false
	}
	for _, o := range ri.offs {
		if binary.BigEndian.Uint16(ri.data[o+60:o+62])&0x3000 != 0 {
			return true
		}
	}
	return false
}

// encode returns the new index: the entries of set replaced or inserted,
// those of del removed, every other entry copied. Extensions are dropped
// except the resolve-undo one: the cache-tree, untracked cache, fsmonitor
// and offset tables would be stale, and git rebuilds them when it needs
// them.
func (ri *rawIndex) encode(set []*index.Entry, del map[string]bool) ([]byte, error) {
	if ri.full != nil || ri.data == nil {
		idx := ri.full
		byName := map[string]*index.Entry{}
		for _, e := range set {
			byName[e.Name] = e
		}
		kept := idx.Entries[:0]
		for _, e := range idx.Entries {
			if del[e.Name] {
				continue
			}
			if n, ok := byName[e.Name]; ok {
				*e = *n
				delete(byName, e.Name)
			}
			kept = append(kept, e)
		}
		for _, e := range set {
			if _, ok := byName[e.Name]; ok {
				kept = append(kept, e)
			}
		}
		idx.Entries = kept
		idx.Cache, idx.ResolveUndo = nil, nil
		var buf bytes.Buffer
		if err := index.NewEncoder(&buf).Encode(idx); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	// Encode the new entries with go-git, then cut them out of its output.
	sort.Slice(set, func(i, j int) bool { return set[i].Name < set[j].Name })
	newBytes := make([][]byte, len(set))
	for i, e := range set {
		var buf bytes.Buffer
		if err := index.NewEncoder(&buf).Encode(&index.Index{Version: ri.version, Entries: []*index.Entry{e}}); err != nil {
			return nil, fmt.Errorf("encoding index entry %s: %w", e.Name, err)
		}
		b := buf.Bytes()
		newBytes[i] = b[12 : len(b)-20]
	}
	out := make([]byte, 0, len(ri.data)+len(set)*128)
	out = append(out, ri.data[:12]...)
	count := 0
	entryEnd := func(i int) int {
		if i+1 < len(ri.offs) {
			return ri.offs[i+1]
		}
		return ri.extOff
	}
	j := 0
	for i, name := range ri.names {
		for j < len(set) && set[j].Name < name {
			out = append(out, newBytes[j]...)
			count++
			j++
		}
		if j < len(set) && set[j].Name == name {
			out = append(out, newBytes[j]...)
			count++
			j++
			continue
		}
		if del[name] {
			continue
		}
		out = append(out, ri.data[ri.offs[i]:entryEnd(i)]...)
		count++
	}
	for ; j < len(set); j++ {
		out = append(out, newBytes[j]...)
		count++
	}
	binary.BigEndian.PutUint32(out[8:12], uint32(count))
	end := len(ri.data) - 20
	for o := ri.extOff; o+8 <= end; {
		size := int(binary.BigEndian.Uint32(ri.data[o+4 : o+8]))
		if string(ri.data[o:o+4]) == "REUC" {
			out = append(out, ri.data[o:o+8+size]...)
		}
		o += 8 + size
	}
	sum := sha1.Sum(out)
	return append(out, sum[:]...), nil
}
