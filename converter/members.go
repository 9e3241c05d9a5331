package converter

import "bytes"

// memberIter walks the members of one JSON object that the jsontext
// decoder has already read and validated (jsontext.Decoder.ReadValue), so
// it only frames: it finds where each key and value starts and ends and
// never interprets escapes or numbers. Given bytes that are not a valid
// object it stops early; it never reads out of bounds or panics.
type memberIter struct {
	b []byte
	i int
}

// newMemberIter starts at the members of obj, which begins with '{'.
func newMemberIter(obj []byte) memberIter { return memberIter{b: obj, i: 1} }

// next returns the next member's key (a raw JSON string, quotes included)
// and value (raw JSON, never empty); ok is false after the last member.
// Both alias the object's bytes.
func (it *memberIter) next() (key, val []byte, ok bool) {
	b := it.b
	i := skipSpace(b, it.i)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		it.i = len(b)
		return nil, nil, false
	}
	ke := stringEnd(b, i)
	if ke < 0 {
		it.i = len(b)
		return nil, nil, false
	}
	key = b[i:ke]
	i = skipSpace(b, ke)
	if i >= len(b) || b[i] != ':' {
		it.i = len(b)
		return nil, nil, false
	}
	i = skipSpace(b, i+1)
	ve := valueEnd(b, i)
	if ve <= i {
		it.i = len(b)
		return nil, nil, false
	}
	it.i = ve
	return key, b[i:ve], true
}

// stringEnd returns the index just after the closing quote of the string
// that starts at b[i] (a '"'), or -1. In valid JSON a backslash always
// starts an escape whose next byte is not the closing quote, so skipping
// the byte after each backslash is enough.
func stringEnd(b []byte, i int) int {
	j := i + 1
	for {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return -1
		}
		bs := bytes.IndexByte(b[j:j+q], '\\')
		if bs < 0 {
			return j + q + 1
		}
		j += bs + 2 // skip the backslash and the byte it escapes
		if j > len(b) {
			return -1
		}
	}
}

// skipSpace skips JSON whitespace. Between tokens of valid JSON the only
// bytes <= ' ' are whitespace, so one comparison per byte is enough.
func skipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' {
		i++
	}
	return i
}

// valueEnd returns the index just after the value that starts at b[i], or
// -1.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := stringEnd(b, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] > ' ' && b[j] != ',' && b[j] != '}' && b[j] != ']' {
		j++
	}
	return j
}
