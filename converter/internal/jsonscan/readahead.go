package jsonscan

import (
	"bufio"
	"errors"
	"io"

	"github.com/klauspost/compress/gzip"
)

const (
	readAheadChunk = 256 << 10
	readAheadDepth = 8
)

// ReadAhead decompresses (when the input starts with the gzip magic) and
// filters the input on its own goroutine, handing filled chunks to Read
// through a buffered channel so inflate and parse run in parallel (an
// io.Pipe would serialise them). Errors from the source are classified
// here: a short gzip stream is ErrTruncated, a bad header or checksum is
// ErrMalformed; the gzip CRC is verified when the stream reaches io.EOF.
type ReadAhead struct {
	ch     chan []byte
	free   chan []byte
	done   chan struct{}
	exited chan struct{}

	cur, curBuf []byte
	total       int64

	// Written by the producer before it closes ch.
	err        error
	compressed bool
}

func StartReadAhead(src io.Reader) *ReadAhead {
	r := &ReadAhead{
		ch:     make(chan []byte, readAheadDepth),
		free:   make(chan []byte, readAheadDepth+2),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	go r.produce(src)
	return r
}

func (r *ReadAhead) produce(src io.Reader) {
	defer close(r.exited)
	defer close(r.ch)
	br := bufio.NewReaderSize(src, 64<<10)
	in := io.Reader(br)
	magic, _ := br.Peek(2)
	if len(magic) == 1 && magic[0] == 0x1f {
		// One byte of a gzip file that is still being written.
		r.err = &Error{Offset: -1, Reason: "input ends inside the gzip magic", Err: ErrTruncated}
		return
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		r.compressed = true
		zr, err := gzip.NewReader(br)
		if err != nil {
			r.err = classifySourceErr(err, true)
			return
		}
		in = zr
	}
	// Only the first chunk goes through nanFilter: the ID seed is the
	// first 64 KiB of what the parser reads, and it must stay what it was
	// when the whole input was filtered. The parser reads bare NaN words
	// as the strings the filter made of them, so filtered and raw bytes
	// mean the same to it.
	var f nanFilter
	raw := make([]byte, readAheadChunk)
	first := true
	for {
		var out []byte
		select {
		case out = <-r.free:
		default:
			out = make([]byte, 0, readAheadChunk+readAheadChunk/8)
		}
		var n int
		var err error
		if first {
			n, err = fill(in, raw)
			out = f.apply(out[:0], raw[:n])
			if err != nil {
				out = f.finish(out)
			} else {
				// A word cut by the chunk end passes on unquoted: the
				// parser reads the rest of it from the raw bytes that
				// follow.
				out = append(out, f.pending...)
			}
			first = false
		} else {
			n, err = fill(in, out[:readAheadChunk])
			out = out[:n]
		}
		if len(out) > 0 {
			select {
			case r.ch <- out:
			case <-r.done:
				return
			}
		}
		if err != nil {
			if err == io.EOF {
				r.err = io.EOF
			} else {
				r.err = classifySourceErr(err, r.compressed)
			}
			return
		}
	}
}

// fill reads until buf is full or the reader fails; it returns io.EOF only
// at the clean end of the input.
func fill(in io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := in.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func classifySourceErr(err error, compressed bool) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), compressed && errors.Is(err, io.EOF):
		return &Error{Offset: -1, Reason: "compressed stream ends early", Err: ErrTruncated}
	case errors.Is(err, gzip.ErrChecksum):
		return &Error{Offset: -1, Reason: "gzip checksum mismatch", Err: ErrMalformed}
	case errors.Is(err, gzip.ErrHeader):
		return &Error{Offset: -1, Reason: "invalid gzip header", Err: ErrMalformed}
	}
	if compressed && isFlateCorrupt(err) {
		return &Error{Offset: -1, Reason: "corrupt gzip data: " + err.Error(), Err: ErrMalformed}
	}
	return &Error{Offset: -1, Reason: "reading input", Err: err}
}

// Read implements io.Reader for the decoder.
func (r *ReadAhead) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.curBuf != nil {
			select {
			case r.free <- r.curBuf:
			default:
			}
			r.curBuf = nil
		}
		b, ok := <-r.ch
		if !ok {
			return 0, r.err
		}
		r.cur, r.curBuf = b, b
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	r.total += int64(n)
	return n, nil
}

// close stops the producer and waits until it has exited. The producer
// exits at its next chunk boundary; a source Read already in progress is
// waited for.
func (r *ReadAhead) Close() {
	close(r.done)
	<-r.exited
}

// Total is how many decompressed bytes were read (final once Read has
// returned io.EOF or an error).
func (r *ReadAhead) Total() int64 { return r.total }

// Compressed reports that the input was gzip.
func (r *ReadAhead) Compressed() bool { return r.compressed }
