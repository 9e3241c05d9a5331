package watcher

import (
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/gzip"
)

// headBytes is how much decompressed content the fingerprint hashes from
// the start of a file; tailBytes how much raw content it hashes from the
// end of a .json.
const (
	headBytes = 16 << 10
	tailBytes = 16 << 10
)

// opener opens a file for reading; tests replace it.
type opener func(name string) (*os.File, error)

// fingerprint identifies a trace file by content without reading all of it:
//
//	xxh64:<hash of the first 16 KiB of decompressed content>:<tail>
//
// where <tail> is, for .gz, the gzip trailer (CRC-32 and length of the whole
// decompressed stream, 16 hex digits) and, for .json, the hash of the last
// 16 KiB. For .gz it returns an error matching ErrTruncated when the file
// visibly ends early (too short for a trailer, header or first 16 KiB cut)
// and one matching ErrCorrupt when it is not gzip. A .json is never judged
// here: Kineto renames it into place whole, and the converter tells
// truncated from malformed.
func fingerprint(open opener, path string, gz bool, size int64) (string, error) {
	f, err := open(path)
	if err != nil {
		return "", &FileError{Op: "open", Path: path, Err: err}
	}
	defer f.Close()
	h := xxhash.New()
	if gz {
		const minGzip = 18 // 10-byte header + 8-byte trailer
		if size < minGzip {
			return "", &FileError{Op: "fingerprint", Path: path, Err: fmt.Errorf("%w: %d bytes", ErrTruncated, size)}
		}
		zr, err := gzip.NewReader(io.NewSectionReader(f, 0, size))
		if err != nil {
			return "", &FileError{Op: "fingerprint", Path: path, Err: classifyGzip(err)}
		}
		if _, err := io.CopyN(h, zr, headBytes); err != nil && err != io.EOF {
			return "", &FileError{Op: "fingerprint", Path: path, Err: classifyGzip(err)}
		}
		var trailer [8]byte
		if _, err := f.ReadAt(trailer[:], size-8); err != nil {
			return "", &FileError{Op: "fingerprint", Path: path, Err: truncatedIfEOF(err)}
		}
		return fmt.Sprintf("xxh64:%016x:%08x%08x", h.Sum64(),
			binary.LittleEndian.Uint32(trailer[:4]), binary.LittleEndian.Uint32(trailer[4:])), nil
	}
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, min(size, headBytes))); err != nil {
		return "", &FileError{Op: "fingerprint", Path: path, Err: err}
	}
	head := h.Sum64()
	n := min(size, tailBytes)
	tail := make([]byte, n)
	if _, err := f.ReadAt(tail, size-n); err != nil {
		return "", &FileError{Op: "fingerprint", Path: path, Err: truncatedIfEOF(err)}
	}
	return fmt.Sprintf("xxh64:%016x:%016x", head, xxhash.Sum64(tail)), nil
}

// classifyGzip maps gzip/flate errors onto ErrTruncated (the stream stops
// early: may still be growing) or ErrCorrupt (it can never become valid).
// Other errors (I/O) pass through unchanged.
func classifyGzip(err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Errorf("%w: %w", ErrTruncated, err)
	case errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.As(err, &corrupt):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

func truncatedIfEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", ErrTruncated, err)
	}
	return err
}
