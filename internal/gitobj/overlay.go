package gitobj

import (
	"errors"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Overlay is an object store that keeps new objects in memory on top of
// a repository's store: the series can be built and every check run
// (dry runs included) before a single object is written. Flush writes the
// new objects into the repository.
type Overlay struct {
	Base storer.EncodedObjectStorer
	objs map[plumbing.Hash]plumbing.EncodedObject
}

// NewOverlay returns an empty overlay on base.
func NewOverlay(base storer.EncodedObjectStorer) *Overlay {
	return &Overlay{Base: base, objs: map[plumbing.Hash]plumbing.EncodedObject{}}
}

func (o *Overlay) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

func (o *Overlay) SetEncodedObject(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	h := obj.Hash()
	if _, ok := o.objs[h]; !ok {
		if o.Base.HasEncodedObject(h) != nil {
			o.objs[h] = obj
		}
	}
	return h, nil
}

func (o *Overlay) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if obj, ok := o.objs[h]; ok {
		if t != plumbing.AnyObject && obj.Type() != t {
			return nil, plumbing.ErrObjectNotFound
		}
		return obj, nil
	}
	return o.Base.EncodedObject(t, h)
}

func (o *Overlay) IterEncodedObjects(plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	return nil, errors.New("overlay: iteration not supported")
}

func (o *Overlay) HasEncodedObject(h plumbing.Hash) error {
	if _, ok := o.objs[h]; ok {
		return nil
	}
	return o.Base.HasEncodedObject(h)
}

func (o *Overlay) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	if obj, ok := o.objs[h]; ok {
		return obj.Size(), nil
	}
	return o.Base.EncodedObjectSize(h)
}

func (o *Overlay) AddAlternate(string) error { return errors.New("overlay: no alternates") }

// Len is the number of new objects.
func (o *Overlay) Len() int { return len(o.objs) }

// Flush writes the new objects into the base store (blobs and trees
// before commits, so that a crash never leaves a commit without its tree).
func (o *Overlay) Flush() error {
	list := make([]plumbing.EncodedObject, 0, len(o.objs))
	for _, obj := range o.objs {
		list = append(list, obj)
	}
	rank := map[plumbing.ObjectType]int{plumbing.BlobObject: 0, plumbing.TreeObject: 1, plumbing.CommitObject: 2, plumbing.TagObject: 3}
	sort.SliceStable(list, func(i, j int) bool { return rank[list[i].Type()] < rank[list[j].Type()] })
	for _, obj := range list {
		if _, err := o.Base.SetEncodedObject(obj); err != nil {
			return err
		}
	}
	o.objs = map[plumbing.Hash]plumbing.EncodedObject{}
	return nil
}
