package testkit

import "os"

// MemFile is an in-memory io.ReaderAt and io.WriterAt (a stand-in for a
// scratch file such as the converter's Options.Spill) that can be told to
// fail. A read past the end is an error; a read that ends early returns
// the short count without one, as a file cut under the reader would, so
// callers must check the count.
type MemFile struct {
	B                   []byte // the file's bytes; a test may cut them
	FailWrite, FailRead error  // returned by every WriteAt / ReadAt when set
	Reads               int    // ReadAt calls so far
}

// WriteAt stores p at off, growing the file.
func (m *MemFile) WriteAt(p []byte, off int64) (int, error) {
	if m.FailWrite != nil {
		return 0, m.FailWrite
	}
	if need := int(off) + len(p); need > len(m.B) {
		m.B = append(m.B, make([]byte, need-len(m.B))...)
	}
	return copy(m.B[off:], p), nil
}

// ReadAt copies the bytes at off into p.
func (m *MemFile) ReadAt(p []byte, off int64) (int, error) {
	m.Reads++
	if m.FailRead != nil {
		return 0, m.FailRead
	}
	if off >= int64(len(m.B)) {
		return 0, os.ErrInvalid
	}
	return copy(p, m.B[off:]), nil
}
