package gitobj

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// ObjectStore reads a repository's objects by need, the way git does:
// a pack's .idx is searched in place (fan-out table, then a binary search
// with pread), never loaded, and an object is inflated from its pack at
// its offset, deltas resolved by offset. Memory therefore does not grow
// with the history: go-git's filesystem storage loads every .idx whole
// and, for offset deltas, builds a map of every object of the pack
// (hundreds of megabytes for a kernel with its history), while here a
// lookup costs a few small reads and a bounded cache keeps recent
// objects. Loose objects and alternates (objects/info/alternates, as
// "git clone --shared" makes) are read too; new objects are written
// loose, as git writes them.
type ObjectStore struct {
	dirs  []string // objects directories: own first, then alternates
	mu    sync.Mutex
	packs []*packFile
	seen  map[string]bool
	cache *objCache
}

type packFile struct {
	name       string
	idx, pack  *os.File
	n          uint32
	fanout     [256]uint32
	packSize   int64
	namesOff   int64
	off32Off   int64
	off64Off   int64
	idxVersion int
}

// OpenObjectStore opens the object store of the repository whose common
// git directory is commonDir.
func OpenObjectStore(commonDir string) (*ObjectStore, error) {
	s := &ObjectStore{seen: map[string]bool{}, cache: newObjCache(32 << 20)}
	var add func(dir string, depth int)
	add = func(dir string, depth int) {
		dir = filepath.Clean(dir)
		for _, d := range s.dirs {
			if d == dir {
				return
			}
		}
		s.dirs = append(s.dirs, dir)
		if depth > 5 {
			return
		}
		data, err := os.ReadFile(filepath.Join(dir, "info", "alternates"))
		if err != nil {
			return
		}
		for _, l := range strings.Split(string(data), "\n") {
			l = strings.TrimSpace(l)
			if l == "" || l[0] == '#' {
				continue
			}
			if !filepath.IsAbs(l) {
				l = filepath.Join(dir, l)
			}
			add(l, depth+1)
		}
	}
	add(filepath.Join(commonDir, "objects"), 0)
	if err := s.scanPacks(); err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the pack files.
func (s *ObjectStore) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.packs {
		p.idx.Close()
		p.pack.Close()
	}
	s.packs = nil
}

// scanPacks opens the packs not opened yet (also after a repack).
func (s *ObjectStore) scanPacks() error {
	for _, d := range s.dirs {
		idxs, _ := filepath.Glob(filepath.Join(d, "pack", "pack-*.idx"))
		sort.Strings(idxs)
		for _, ip := range idxs {
			if s.seen[ip] {
				continue
			}
			pp := strings.TrimSuffix(ip, ".idx") + ".pack"
			p, err := openPack(ip, pp)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					continue // a pack being written or removed
				}
				return err
			}
			s.seen[ip] = true
			s.packs = append(s.packs, p)
		}
	}
	return nil
}

func openPack(idxPath, packPath string) (*packFile, error) {
	fi, err := os.Open(idxPath)
	if err != nil {
		return nil, err
	}
	fp, err := os.Open(packPath)
	if err != nil {
		fi.Close()
		return nil, err
	}
	p := &packFile{name: idxPath, idx: fi, pack: fp}
	st, err := fp.Stat()
	if err != nil {
		p.close()
		return nil, err
	}
	p.packSize = st.Size()
	var hdr [8 + 1024]byte
	if _, err := fi.ReadAt(hdr[:], 0); err != nil {
		p.close()
		return nil, fmt.Errorf("%s: %w", idxPath, err)
	}
	fan := hdr[:]
	if bytes.Equal(hdr[:4], []byte{0xff, 't', 'O', 'c'}) {
		if v := binary.BigEndian.Uint32(hdr[4:8]); v != 2 {
			p.close()
			return nil, fmt.Errorf("%s: pack index version %d is not supported", idxPath, v)
		}
		p.idxVersion = 2
		fan = hdr[8:]
	} else {
		p.idxVersion = 1
		var h1 [1024]byte
		copy(h1[:], hdr[:1024])
		fan = h1[:]
	}
	for i := 0; i < 256; i++ {
		p.fanout[i] = binary.BigEndian.Uint32(fan[i*4:])
	}
	p.n = p.fanout[255]
	if p.idxVersion == 2 {
		p.namesOff = 8 + 1024
		p.off32Off = p.namesOff + int64(p.n)*24
		p.off64Off = p.off32Off + int64(p.n)*4
	} else {
		p.namesOff = 1024 // entries of 4-byte offset + 20-byte name
	}
	return p, nil
}

func (p *packFile) close() {
	p.idx.Close()
	p.pack.Close()
}

// find returns the offset of h in the pack, or -1.
func (p *packFile) find(h plumbing.Hash) (int64, error) {
	lo := uint32(0)
	if h[0] > 0 {
		lo = p.fanout[h[0]-1]
	}
	hi := p.fanout[h[0]]
	var buf [24]byte
	for lo < hi {
		mid := lo + (hi-lo)/2
		var name []byte
		if p.idxVersion == 2 {
			if _, err := p.idx.ReadAt(buf[:20], p.namesOff+int64(mid)*20); err != nil {
				return -1, err
			}
			name = buf[:20]
		} else {
			if _, err := p.idx.ReadAt(buf[:24], p.namesOff+int64(mid)*24); err != nil {
				return -1, err
			}
			name = buf[4:24]
		}
		switch c := bytes.Compare(name, h[:]); {
		case c == 0:
			if p.idxVersion == 1 {
				return int64(binary.BigEndian.Uint32(buf[:4])), nil
			}
			if _, err := p.idx.ReadAt(buf[:4], p.off32Off+int64(mid)*4); err != nil {
				return -1, err
			}
			o := binary.BigEndian.Uint32(buf[:4])
			if o&0x80000000 == 0 {
				return int64(o), nil
			}
			if _, err := p.idx.ReadAt(buf[:8], p.off64Off+int64(o&0x7fffffff)*8); err != nil {
				return -1, err
			}
			return int64(binary.BigEndian.Uint64(buf[:8])), nil
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return -1, nil
}

const (
	objOfsDelta = 6
	objRefDelta = 7
)

type rawObj struct {
	t    plumbing.ObjectType
	data []byte
}

// entryAt reads the header of the pack entry at off: its type, the
// inflated size, the base (offset or hash) of a delta, and where the
// compressed data start.
func (p *packFile) entryAt(off int64) (typ int, size int64, baseOff int64, baseHash plumbing.Hash, dataOff int64, err error) {
	var buf [64]byte
	n, err := p.pack.ReadAt(buf[:], off)
	if n == 0 {
		return 0, 0, 0, baseHash, 0, fmt.Errorf("%s: reading entry at %d: %w", p.name, off, err)
	}
	b := buf[:n]
	i := 0
	c := b[i]
	i++
	typ = int(c>>4) & 7
	size = int64(c & 15)
	shift := 4
	for c&0x80 != 0 {
		if i >= len(b) {
			return 0, 0, 0, baseHash, 0, fmt.Errorf("%s: bad entry header at %d", p.name, off)
		}
		c = b[i]
		i++
		size |= int64(c&0x7f) << shift
		shift += 7
	}
	switch typ {
	case objOfsDelta:
		c = b[i]
		i++
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			c = b[i]
			i++
			rel = ((rel + 1) << 7) | int64(c&0x7f)
		}
		baseOff = off - rel
	case objRefDelta:
		copy(baseHash[:], b[i:i+20])
		i += 20
	}
	return typ, size, baseOff, baseHash, off + int64(i), nil
}

func (p *packFile) inflate(dataOff, size int64) ([]byte, error) {
	zr, err := zlib.NewReader(bufio.NewReaderSize(io.NewSectionReader(p.pack, dataOff, p.packSize-dataOff), 16<<10))
	if err != nil {
		return nil, fmt.Errorf("%s: inflating at %d: %w", p.name, dataOff, err)
	}
	defer zr.Close()
	out := make([]byte, size)
	if _, err := io.ReadFull(zr, out); err != nil {
		return nil, fmt.Errorf("%s: inflating at %d: %w", p.name, dataOff, err)
	}
	return out, nil
}

type cacheKey struct {
	pack *packFile
	off  int64
}

// readAt returns the object at off, resolving deltas.
func (s *ObjectStore) readAt(p *packFile, off int64) (*rawObj, error) {
	type pending struct {
		key   cacheKey
		delta []byte
	}
	var chain []pending
	var base *rawObj
	for depth := 0; ; depth++ {
		if depth > 10000 {
			return nil, fmt.Errorf("%s: delta chain too long at %d", p.name, off)
		}
		key := cacheKey{p, off}
		if o := s.cache.get(key); o != nil {
			base = o
			break
		}
		typ, size, baseOff, baseHash, dataOff, err := p.entryAt(off)
		if err != nil {
			return nil, err
		}
		data, err := p.inflate(dataOff, size)
		if err != nil {
			return nil, err
		}
		switch typ {
		case 1, 2, 3, 4:
			base = &rawObj{t: plumbing.ObjectType(typ), data: data}
			s.cache.put(key, base)
		case objOfsDelta:
			chain = append(chain, pending{key, data})
			off = baseOff
			continue
		case objRefDelta:
			chain = append(chain, pending{key, data})
			bp, bo, err := s.locate(baseHash)
			if err != nil {
				return nil, err
			}
			if bp == nil {
				o, err := s.loose(baseHash)
				if err != nil {
					return nil, fmt.Errorf("%s: delta base %s: %w", p.name, baseHash, err)
				}
				base = o
				break
			}
			p, off = bp, bo
			continue
		default:
			return nil, fmt.Errorf("%s: unknown object type %d at %d", p.name, typ, off)
		}
		break
	}
	for i := len(chain) - 1; i >= 0; i-- {
		data, err := applyDelta(base.data, chain[i].delta)
		if err != nil {
			return nil, fmt.Errorf("%s: delta at %d: %w", chain[i].key.pack.name, chain[i].key.off, err)
		}
		base = &rawObj{t: base.t, data: data}
		s.cache.put(chain[i].key, base)
	}
	return base, nil
}

func deltaVarint(d []byte) (int, []byte, error) {
	v, shift := 0, 0
	for i, c := range d {
		v |= int(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			return v, d[i+1:], nil
		}
	}
	return 0, nil, errors.New("truncated size")
}

func applyDelta(src, d []byte) ([]byte, error) {
	srcSize, d, err := deltaVarint(d)
	if err != nil {
		return nil, err
	}
	if srcSize != len(src) {
		return nil, fmt.Errorf("base size %d, delta wants %d", len(src), srcSize)
	}
	dstSize, d, err := deltaVarint(d)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, dstSize)
	for len(d) > 0 {
		op := d[0]
		d = d[1:]
		switch {
		case op&0x80 != 0:
			var off, n int
			var ok1, ok2 bool
			off, d, ok1 = copyField(op, 0x01, 4, d)
			n, d, ok2 = copyField(op, 0x10, 3, d)
			if !ok1 || !ok2 {
				return nil, errors.New("truncated copy")
			}
			if n == 0 {
				n = 0x10000
			}
			if off+n > len(src) {
				return nil, errors.New("copy out of range")
			}
			out = append(out, src[off:off+n]...)
		case op != 0:
			if int(op) > len(d) {
				return nil, errors.New("truncated insert")
			}
			out = append(out, d[:op]...)
			d = d[op:]
		default:
			return nil, errors.New("delta opcode 0")
		}
	}
	if len(out) != dstSize {
		return nil, fmt.Errorf("result has %d bytes, want %d", len(out), dstSize)
	}
	return out, nil
}

// locate finds h in the packs (rescanning once on a miss).
func (s *ObjectStore) locate(h plumbing.Hash) (*packFile, int64, error) {
	for pass := 0; pass < 2; pass++ {
		for _, p := range s.packs {
			off, err := p.find(h)
			if err != nil {
				return nil, 0, err
			}
			if off >= 0 {
				return p, off, nil
			}
		}
		if pass == 0 {
			n := len(s.packs)
			if err := s.scanPacks(); err != nil || len(s.packs) == n {
				break
			}
		}
	}
	return nil, 0, nil
}

func (s *ObjectStore) loosePath(dir string, h plumbing.Hash) string {
	x := h.String()
	return filepath.Join(dir, x[:2], x[2:])
}

func (s *ObjectStore) loose(h plumbing.Hash) (*rawObj, error) {
	for _, d := range s.dirs {
		f, err := os.Open(s.loosePath(d, h))
		if err != nil {
			continue
		}
		defer f.Close()
		zr, err := zlib.NewReader(bufio.NewReader(f))
		if err != nil {
			return nil, fmt.Errorf("loose object %s: %w", h, err)
		}
		defer zr.Close()
		br := bufio.NewReader(zr)
		hdr, err := br.ReadString(0)
		if err != nil {
			return nil, fmt.Errorf("loose object %s: %w", h, err)
		}
		ts, ss, _ := strings.Cut(strings.TrimSuffix(hdr, "\x00"), " ")
		t, err := plumbing.ParseObjectType(ts)
		if err != nil {
			return nil, fmt.Errorf("loose object %s: %w", h, err)
		}
		size, err := strconv.ParseInt(ss, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("loose object %s: bad size", h)
		}
		data := make([]byte, size)
		if _, err := io.ReadFull(br, data); err != nil {
			return nil, fmt.Errorf("loose object %s: %w", h, err)
		}
		return &rawObj{t: t, data: data}, nil
	}
	return nil, plumbing.ErrObjectNotFound
}

func (s *ObjectStore) get(h plumbing.Hash) (*rawObj, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, off, err := s.locate(h)
	if err != nil {
		return nil, err
	}
	if p != nil {
		return s.readAt(p, off)
	}
	return s.loose(h)
}

// NewEncodedObject implements storer.EncodedObjectStorer.
func (s *ObjectStore) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

// SetEncodedObject writes obj as a loose object (temporary file, then
// rename), unless the store has it.
func (s *ObjectStore) SetEncodedObject(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	h := obj.Hash()
	if s.HasEncodedObject(h) == nil {
		return h, nil
	}
	data, err := ReadObject(obj)
	if err != nil {
		return h, err
	}
	dst := s.loosePath(s.dirs[0], h)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return h, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "tmp_obj_")
	if err != nil {
		return h, err
	}
	zw, _ := zlib.NewWriterLevel(tmp, zlib.BestSpeed)
	fmt.Fprintf(zw, "%s %d\x00", obj.Type(), len(data))
	zw.Write(data)
	err = zw.Close()
	if err == nil {
		err = tmp.Chmod(0o444)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return h, fmt.Errorf("writing object %s: %w", h, err)
	}
	return h, nil
}

// EncodedObject implements storer.EncodedObjectStorer.
func (s *ObjectStore) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	o, err := s.get(h)
	if err != nil {
		return nil, err
	}
	if t != plumbing.AnyObject && o.t != t {
		return nil, plumbing.ErrObjectNotFound
	}
	mo := &plumbing.MemoryObject{}
	mo.SetType(o.t)
	mo.Write(o.data)
	return mo, nil
}

// IterEncodedObjects is not supported: kgen never walks all objects.
func (s *ObjectStore) IterEncodedObjects(plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	return nil, errors.New("object store: iteration not supported")
}

// HasEncodedObject implements storer.EncodedObjectStorer.
func (s *ObjectStore) HasEncodedObject(h plumbing.Hash) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, _, err := s.locate(h)
	if err != nil {
		return err
	}
	if p != nil {
		return nil
	}
	for _, d := range s.dirs {
		if _, err := os.Stat(s.loosePath(d, h)); err == nil {
			return nil
		}
	}
	return plumbing.ErrObjectNotFound
}

// EncodedObjectSize implements storer.EncodedObjectStorer.
func (s *ObjectStore) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	o, err := s.get(h)
	if err != nil {
		return 0, err
	}
	return int64(len(o.data)), nil
}

// AddAlternate is not supported.
func (s *ObjectStore) AddAlternate(string) error {
	return errors.New("object store: adding alternates is not supported")
}

// objCache is an LRU of inflated objects bounded by their total size.
type objCache struct {
	max, size int
	ll        *list.List
	m         map[cacheKey]*list.Element
}

type cacheEntry struct {
	key cacheKey
	obj *rawObj
}

func newObjCache(max int) *objCache {
	return &objCache{max: max, ll: list.New(), m: map[cacheKey]*list.Element{}}
}

func (c *objCache) get(k cacheKey) *rawObj {
	if e, ok := c.m[k]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cacheEntry).obj
	}
	return nil
}

func (c *objCache) put(k cacheKey, o *rawObj) {
	if len(o.data) > c.max/4 {
		return
	}
	if e, ok := c.m[k]; ok {
		c.ll.MoveToFront(e)
		return
	}
	c.m[k] = c.ll.PushFront(&cacheEntry{k, o})
	c.size += len(o.data)
	for c.size > c.max {
		e := c.ll.Back()
		ce := e.Value.(*cacheEntry)
		c.ll.Remove(e)
		delete(c.m, ce.key)
		c.size -= len(ce.obj.data)
	}
}

// copyField reads a field of a delta's copy instruction: for each of its
// nbytes bits of op from first up, a set bit means one more byte of the
// little-endian field follows in d. ok is false when d ends too soon.
func copyField(op byte, first byte, nbytes int, d []byte) (v int, rest []byte, ok bool) {
	for i := 0; i < nbytes; i++ {
		if op&(first<<i) != 0 {
			if len(d) == 0 {
				return 0, d, false
			}
			v |= int(d[0]) << (8 * i)
			d = d[1:]
		}
	}
	return v, d, true
}
