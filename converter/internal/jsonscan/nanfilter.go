package jsonscan

import "bytes"

// nanFilter rewrites bare non-finite number words that some Kineto builds
// print where a JSON number belongs (nan, -nan, NaN, inf, -inf, Infinity,
// ...) into JSON strings, so one bad arg never invalidates a whole file.
// Everything else passes through unchanged. It keeps its state across
// chunks: whether it is inside a string, after a backslash, and a pending
// word that might be one of those.
type nanFilter struct {
	inString bool
	escape   bool
	// passWord: inside a word that cannot be a NaN word (a number or a
	// literal); bytes pass until the next delimiter.
	passWord bool
	pending  []byte
	replaced int64
}

func isDelim(c byte) bool {
	switch c {
	case '{', '}', '[', ']', ',', ':', ' ', '\n', '\r', '\t', '"':
		return true
	}
	return false
}

func IsNaNWord(w []byte) bool {
	if len(w) > 0 && w[0] == '-' {
		w = w[1:]
	}
	switch string(w) {
	case "nan", "NaN", "NAN", "inf", "Inf", "INF", "Infinity", "infinity":
		return true
	}
	return false
}

// maxPending bounds the pending word: longer words cannot be NaN words.
const maxPending = 10

func (f *nanFilter) flushPending(dst []byte) []byte {
	if len(f.pending) == 0 {
		return dst
	}
	if IsNaNWord(f.pending) {
		f.replaced++
		dst = append(dst, '"')
		dst = append(dst, f.pending...)
		dst = append(dst, '"')
	} else {
		dst = append(dst, f.pending...)
	}
	f.pending = f.pending[:0]
	return dst
}

// apply filters src and appends the result to dst.
func (f *nanFilter) apply(dst, src []byte) []byte {
	i := 0
	for i < len(src) {
		if f.inString {
			j := i
			if f.escape {
				f.escape = false
				j++
			}
			if j < len(src) {
				// Find the closing quote, then any backslash before it
				// (both are memchr-fast).
				q := bytes.IndexByte(src[j:], '"')
				seg := src[j:]
				if q >= 0 {
					seg = src[j : j+q]
				}
				if bs := bytes.IndexByte(seg, '\\'); bs >= 0 {
					j += bs
				} else {
					j += len(seg)
				}
			}
			if j >= len(src) {
				dst = append(dst, src[i:]...)
				return dst
			}
			if src[j] == '\\' {
				if j+1 < len(src) {
					dst = append(dst, src[i:j+2]...)
					i = j + 2
				} else {
					dst = append(dst, src[i:j+1]...)
					f.escape = true
					i = j + 1
				}
				continue
			}
			dst = append(dst, src[i:j+1]...)
			f.inString = false
			i = j + 1
			continue
		}
		// Outside strings: copy runs of bytes that cannot start a NaN word.
		j := i
		for j < len(src) {
			c := src[j]
			if isDelim(c) {
				if len(f.pending) > 0 {
					break
				}
				f.passWord = false
				if c == '"' {
					break
				}
				j++
				continue
			}
			if f.passWord {
				j++
				continue
			}
			if len(f.pending) > 0 {
				break
			}
			if c == '-' || c == 'n' || c == 'N' || c == 'i' || c == 'I' {
				break
			}
			f.passWord = true
			j++
		}
		dst = append(dst, src[i:j]...)
		i = j
		if i >= len(src) {
			break
		}
		c := src[i]
		if c == '"' {
			dst = f.flushPending(dst)
			dst = append(dst, '"')
			f.inString = true
			i++
			continue
		}
		if isDelim(c) {
			dst = f.flushPending(dst)
			continue
		}
		// Start or continue a candidate word.
		f.pending = append(f.pending, c)
		i++
		if len(f.pending) > maxPending || (len(f.pending) == 2 && f.pending[0] == '-' && (f.pending[1] >= '0' && f.pending[1] <= '9' || f.pending[1] == '.')) {
			dst = append(dst, f.pending...)
			f.pending = f.pending[:0]
			f.passWord = true
		}
	}
	return dst
}

// finish flushes a word pending at the end of the input.
func (f *nanFilter) finish(dst []byte) []byte {
	return f.flushPending(dst)
}
