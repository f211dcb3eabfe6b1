package gitobj

import (
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// ReadObject returns the whole content of obj.
func ReadObject(obj plumbing.EncodedObject) ([]byte, error) {
	rd, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// BlobBytes returns the content of blob h in s.
func BlobBytes(s storer.EncodedObjectStorer, h plumbing.Hash) ([]byte, error) {
	obj, err := s.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	data, err := ReadObject(obj)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	return data, nil
}
