package jsonscan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// scanner is the converter's JSON reader: one pass over the input that
// validates it (JSON syntax as jsontext checks it, invalid UTF-8 allowed)
// and hands the parser each token, scanned in place in a large window of
// the input. Nothing is copied per event: a token's bytes alias the window
// and stay valid until the next call that reads further.
//
// Bare non-finite number words (nan, -nan, NaN, inf, -inf, Infinity,
// ... as isNaNWord lists them) are read as strings wherever a value or an
// object name may stand, exactly as nanFilter made them behave before:
// the word's text is the string's text, and a raw object or array that
// contains one is returned with the word quoted.
//
// Errors: the first problem is kept in err as an *Error whose offset is
// in the input stream: ErrTruncated when the input ends inside the value,
// ErrMalformed for a syntax error or nesting deeper than maxDepth, and a
// read error from the source as the source gave it (see readErr).
type Scanner struct {
	r    io.Reader
	buf  []byte
	i, n int   // cursor and end of the valid bytes in buf
	base int64 // input offset of buf[0]
	// mark and hold are the first bytes a refill must keep (-1: none):
	// mark for the token being scanned, hold for a raw value being
	// captured around several tokens.
	mark, hold int
	eof        bool  // the source returned io.EOF
	rerr       error // the source returned another error
	err        error // the first error; scanning stops
	sawNaN     bool  // a bare NaN word was read since it was cleared
	stack      []byte
	nanBuf     []byte
}

const (
	scanWindow = 1 << 20
	// maxDepth is the deepest nesting accepted, as in jsontext.
	maxDepth = 10000
)

func (s *Scanner) Init(r io.Reader) {
	s.r = r
	s.buf = make([]byte, scanWindow)
	s.mark, s.hold = -1, -1
}

func (s *Scanner) Off() int64 { return s.base + int64(s.i) }

// fill reads more input into the window, first moving the bytes still
// needed (from min(i, mark, hold)) to its start and growing it when they
// fill it. It returns false, reading nothing, at the end of the input or
// after a read error.
func (s *Scanner) fill() bool {
	if s.eof || s.rerr != nil {
		return false
	}
	keep := s.i
	if s.mark >= 0 && s.mark < keep {
		keep = s.mark
	}
	if s.hold >= 0 && s.hold < keep {
		keep = s.hold
	}
	if keep > 0 {
		copy(s.buf, s.buf[keep:s.n])
		s.n -= keep
		s.i -= keep
		s.base += int64(keep)
		if s.mark >= 0 {
			s.mark -= keep
		}
		if s.hold >= 0 {
			s.hold -= keep
		}
	}
	switch {
	case len(s.buf)-s.n < len(s.buf)/4: // a long token fills the window
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.n])
		s.buf = nb
	case len(s.buf) > scanWindow && s.n < scanWindow/2: // back to normal after one
		nb := make([]byte, scanWindow)
		copy(nb, s.buf[:s.n])
		s.buf = nb
	}
	for range 100 {
		m, err := s.r.Read(s.buf[s.n:])
		s.n += m
		if err != nil {
			if err == io.EOF {
				s.eof = true
			} else {
				s.rerr = err
			}
			return m > 0
		}
		if m > 0 {
			return true
		}
	}
	s.rerr = io.ErrNoProgress
	return false
}

// stop records the reason why fill returned false: the read error, or a
// truncation.
func (s *Scanner) stop() bool {
	if s.err != nil {
		return false
	}
	if s.rerr != nil {
		s.err = readErr(s.rerr, s.Off())
		return false
	}
	s.err = newError(ErrTruncated, s.Off(), "JSON ends before the top-level object is closed")
	return false
}

// readErr classifies an error from the source as the jsontext-based
// parser did: an *Error (from the read-ahead) passes through unchanged.
func readErr(err error, off int64) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return newError(ErrTruncated, off, "JSON ends before the top-level object is closed")
	}
	return &Error{Offset: off, Reason: err.Error(), Err: ErrMalformed}
}

func (s *Scanner) Syntax(format string, args ...any) bool {
	if s.err == nil {
		s.err = newError(ErrMalformed, s.Off(), format, args...)
	}
	return false
}

// ws skips whitespace and returns the next byte, not consumed; false at
// the end of the input (a truncation) or on a read error.
func (s *Scanner) WS() (byte, bool) {
	if s.i < s.n && s.buf[s.i] > ' ' {
		return s.buf[s.i], true
	}
	return s.wsSlow()
}

func (s *Scanner) wsSlow() (byte, bool) {
	for {
		buf := s.buf[:s.n]
		i := s.i
		// Eight bytes at a time: the first byte that is none of the four
		// JSON whitespace bytes ends the run (indentation, newlines).
		for i+8 <= len(buf) {
			v := binary.LittleEndian.Uint64(buf[i:])
			if t := nonWS(v); t != 0 {
				i += bits.TrailingZeros64(t) >> 3
				s.i = i
				return buf[i], true
			}
			i += 8
		}
		for ; i < len(buf); i++ {
			if c := buf[i]; c != ' ' && c != '\n' && c != '\r' && c != '\t' {
				s.i = i
				return c, true
			}
		}
		s.i = i
		if !s.fill() {
			return 0, s.stop()
		}
	}
}

// nonZero has the high bit set in exactly the bytes of x that are not 0.
func nonZero(x uint64) uint64 { return ((x & low7) + low7 | x) & msb }

// nonWS has the high bit set in exactly the bytes of v that are not JSON
// whitespace.
func nonWS(v uint64) uint64 {
	return nonZero(v^(lsb*' ')) & nonZero(v^(lsb*'\n')) & nonZero(v^(lsb*'\r')) & nonZero(v^(lsb*'\t'))
}

// wsEOF is ws where the end of the input is no error: eof reports it.
func (s *Scanner) WSEOF() (c byte, ok, eof bool) {
	for {
		for s.i < s.n {
			c := s.buf[s.i]
			if c > ' ' || (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
				return c, true, false
			}
			s.i++
		}
		if !s.fill() {
			if s.rerr != nil {
				return 0, s.stop(), false
			}
			return 0, false, true
		}
	}
}

// expect consumes the byte c after optional whitespace.
func (s *Scanner) Expect(c byte, what string) bool {
	d, ok := s.WS()
	if !ok {
		return false
	}
	if d != c {
		return s.Syntax("invalid character %q, want %s", d, what)
	}
	s.i++
	return true
}

const (
	lsb  = 0x0101010101010101
	msb  = 0x8080808080808080
	low7 = 0x7f7f7f7f7f7f7f7f
)

// special has the high bit set in the lowest byte of v that is '"', '\\'
// or a control character (higher bytes may be flagged falsely).
func special(v uint64) uint64 {
	q := v ^ (lsb * '"')
	b := v ^ (lsb * '\\')
	return ((q-lsb)&^q | (b-lsb)&^b | (v-lsb*0x20)&^v) & msb
}

// str scans the string whose opening quote is at s.i and returns it raw,
// quotes included, and whether it contains escapes.
func (s *Scanner) Str() (raw []byte, esc, ok bool) {
	s.mark = s.i
	j := s.i + 1
	for {
		buf := s.buf[:s.n]
		for j+8 <= len(buf) {
			t := special(binary.LittleEndian.Uint64(buf[j:]))
			if t != 0 {
				j += bits.TrailingZeros64(t) >> 3
				break
			}
			j += 8
		}
		for j < len(buf) {
			c := buf[j]
			if c == '"' {
				raw = buf[s.mark : j+1]
				s.i, s.mark = j+1, -1
				return raw, esc, true
			}
			if c == '\\' {
				esc = true
				var ok bool
				if j, ok = s.escape(j); !ok {
					return nil, false, false
				}
				buf = s.buf[:s.n]
				continue
			}
			if c < 0x20 {
				s.i = j
				return nil, false, s.Syntax("invalid control character %q in string", c)
			}
			j++
			if j+8 <= len(buf) {
				break // back to eight bytes at a time
			}
		}
		if j < len(buf) {
			continue
		}
		rel := j - s.mark
		s.i = j
		if !s.fill() {
			return nil, false, s.stop()
		}
		j = s.mark + rel
	}
}

// escape validates the escape sequence whose backslash is at buf[j] and
// returns the index after it. It may refill the window (mark is kept).
func (s *Scanner) escape(j int) (int, bool) {
	rel := j - s.mark
	if !s.avail(j, 2) {
		return 0, false
	}
	j = s.mark + rel
	switch s.buf[j+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return j + 2, true
	case 'u':
		for k := 2; k < 6; k++ {
			if !s.avail(j, k+1) {
				return 0, false
			}
			j = s.mark + rel
			if !isHex(s.buf[j+k]) {
				s.i = j + k
				return 0, s.Syntax("invalid character %q in \\u escape", s.buf[j+k])
			}
		}
		return j + 6, true
	}
	s.i = j + 1
	return 0, s.Syntax("invalid escape \\%c in string", s.buf[j+1])
}

// avail makes sure k bytes from buf[j] are in the window; j is relative to
// mark, which must be set (the window may move).
func (s *Scanner) avail(j, k int) bool {
	rel := j - s.mark
	for s.mark+rel+k > s.n {
		s.i = s.mark + rel
		if !s.fill() {
			s.i = s.n
			return s.stop()
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// delimiters end a word (a number, a literal or a bare NaN word): the
// bytes nanFilter treats as delimiters.
var isDelimTab = func() (t [256]bool) {
	for _, c := range []byte("{}[],: \n\r\t\"") {
		t[c] = true
	}
	return t
}()

// wordRun scans the run of non-delimiter bytes at s.i. atEOF reports that
// the input ended right after it.
func (s *Scanner) wordRun() (w []byte, atEOF, ok bool) {
	s.mark = s.i
	j := s.i
	for {
		buf := s.buf[:s.n]
		for j < len(buf) && !isDelimTab[buf[j]] {
			j++
		}
		if j < len(buf) {
			break
		}
		rel := j - s.mark
		s.i = j
		more := s.fill()
		j = s.mark + rel // the window may have moved even when nothing was read
		if !more {
			if s.rerr != nil {
				return nil, false, s.stop()
			}
			atEOF = true
			break
		}
	}
	w = s.buf[s.mark:j]
	s.i, s.mark = j, -1
	return w, atEOF, true
}

// Word kinds: '0' number, 't' true, 'f' false, 'n' null, '"' a bare NaN
// word (a string).
func wordKind(w []byte) byte {
	if len(w) == 0 {
		return 0
	}
	switch c := w[0]; {
	case c == '-' || c >= '0' && c <= '9':
		if valid, _ := numberState(w); valid {
			return '0'
		}
	case string(w) == "true":
		return 't'
	case string(w) == "false":
		return 'f'
	case string(w) == "null":
		return 'n'
	}
	if IsNaNWord(w) {
		return '"'
	}
	return 0
}

// numberState says whether w is a JSON number, and if not, whether it is
// the start of one.
func numberState(w []byte) (valid, prefix bool) {
	i := 0
	if i < len(w) && w[i] == '-' {
		i++
	}
	if i == len(w) {
		return false, true
	}
	switch c := w[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		for i < len(w) && w[i] >= '0' && w[i] <= '9' {
			i++
		}
	default:
		return false, false
	}
	var ok bool
	if i < len(w) && w[i] == '.' {
		if i, ok, prefix = digits(w, i+1); !ok {
			return false, prefix
		}
	}
	if i < len(w) && (w[i] == 'e' || w[i] == 'E') {
		i++
		if i < len(w) && (w[i] == '+' || w[i] == '-') {
			i++
		}
		if i, ok, prefix = digits(w, i); !ok {
			return false, prefix
		}
	}
	return i == len(w), false
}

// digits consumes the one or more digits that a fraction or an exponent
// needs at w[i:]. Without one, prefix says whether w ended first (the
// number may go on) rather than at another byte.
func digits(w []byte, i int) (j int, ok, prefix bool) {
	if i == len(w) {
		return i, false, true
	}
	if w[i] < '0' || w[i] > '9' {
		return i, false, false
	}
	for i < len(w) && w[i] >= '0' && w[i] <= '9' {
		i++
	}
	return i, true, false
}

// tokenPrefix reports whether w, cut by the end of the input, could have
// become a number or a literal (so the input is truncated, not malformed).
func tokenPrefix(w []byte) bool {
	if _, prefix := numberState(w); prefix {
		return true
	}
	for _, lit := range []string{"true", "false", "null"} {
		if len(w) < len(lit) && string(w) == lit[:len(w)] {
			return true
		}
	}
	return false
}

// word scans a number, a literal or a bare NaN word where a value belongs
// and returns its text and kind.
func (s *Scanner) Word() ([]byte, byte, bool) {
	start := s.Off()
	w, atEOF, ok := s.wordRun()
	if !ok {
		return nil, 0, false
	}
	k := wordKind(w)
	switch k {
	case 0:
		if atEOF && len(w) > 0 && tokenPrefix(w) {
			return nil, 0, s.stop()
		}
		if s.err == nil {
			if len(w) == 0 {
				s.err = newError(ErrMalformed, start, "invalid character %q at start of value", s.buf[s.i])
			} else {
				s.err = newError(ErrMalformed, start, "invalid value %q", clip(w))
			}
		}
		return nil, 0, false
	case '"':
		s.sawNaN = true
	}
	return w, k, true
}

func clip(w []byte) string {
	if len(w) > 32 {
		return string(w[:32]) + "..."
	}
	return string(w)
}

// nanName scans an object member name that is not a JSON string: only a
// bare NaN word is accepted there (nanFilter quoted those).
func (s *Scanner) NanName() ([]byte, bool) {
	start := s.Off()
	w, _, ok := s.wordRun()
	if !ok {
		return nil, false
	}
	if len(w) == 0 || !IsNaNWord(w) {
		if s.err == nil {
			s.err = newError(ErrMalformed, start, "invalid character at start of object name")
		}
		return nil, false
	}
	s.sawNaN = true
	return w, true
}

// name scans an object member name (c is its first byte) and the colon
// after it, for values that are only validated.
func (s *Scanner) name(c byte) bool {
	if c == '"' {
		if _, _, ok := s.Str(); !ok {
			return false
		}
	} else if _, ok := s.NanName(); !ok {
		return false
	}
	return s.Expect(':', "':' after object name")
}

// scalar validates a string, number, literal or NaN word (c is its
// first byte).
func (s *Scanner) scalar(c byte) bool {
	if c == '"' {
		_, _, ok := s.Str()
		return ok
	}
	_, _, ok := s.Word()
	return ok
}

// skip validates the value whose first byte c is at s.i, nested in depth
// containers.
func (s *Scanner) Skip(c byte, depth int) bool {
	if c == '{' || c == '[' {
		return s.container(depth)
	}
	return s.scalar(c)
}

// container validates the object or array at s.i without recursion.
func (s *Scanner) container(depth int) bool {
	st := s.stack[:0]
	defer func() { s.stack = st[:0] }()
	c := s.buf[s.i]
	for {
		// c, at s.i, opens a container.
		if depth+len(st) >= maxDepth {
			return s.Syntax("nesting deeper than %d", maxDepth)
		}
		st = append(st, c)
		s.i++
		d, ok := s.WS()
		if !ok {
			return false
		}
		if d == c+2 { // {} or []
			s.i++
			st = st[:len(st)-1]
		} else {
			if d, ok = s.memberValue(c, d); !ok {
				return false
			}
			if d == '{' || d == '[' {
				c = d
				continue
			}
			if !s.scalar(d) {
				return false
			}
		}
		// After a value: a comma and the next one, or closing brackets.
		opened := false
		for len(st) > 0 {
			d, ok := s.WS()
			if !ok {
				return false
			}
			top := st[len(st)-1]
			if d == top+2 {
				s.i++
				st = st[:len(st)-1]
				continue
			}
			if d != ',' {
				return s.Syntax("invalid character %q after a value in %s", d, containerName(top))
			}
			s.i++
			if d, ok = s.WS(); !ok {
				return false
			}
			if d, ok = s.memberValue(top, d); !ok {
				return false
			}
			if d == '{' || d == '[' {
				c = d
				opened = true
				break
			}
			if !s.scalar(d) {
				return false
			}
		}
		if !opened {
			return true
		}
	}
}

// memberValue returns the first byte of the next value in the container
// that open opened, d being the first byte after the opening or the
// comma: in an object it first reads the member name and its colon.
func (s *Scanner) memberValue(open, d byte) (byte, bool) {
	if open != '{' {
		return d, true
	}
	if !s.name(d) {
		return 0, false
	}
	return s.WS()
}

func containerName(c byte) string {
	if c == '{' {
		return "object"
	}
	return "array"
}

// capture validates the object or array at s.i and returns its raw text,
// with bare NaN words quoted as nanFilter wrote them. The result is valid
// until the next capture or read.
func (s *Scanner) Capture(depth int) ([]byte, bool) {
	s.hold = s.i
	s.sawNaN = false
	ok := s.container(depth)
	raw := s.buf[s.hold:s.i]
	s.hold = -1
	if !ok {
		return nil, false
	}
	if s.sawNaN {
		var f nanFilter
		s.nanBuf = f.finish(f.apply(s.nanBuf[:0], raw))
		raw = s.nanBuf
	}
	return raw, true
}

// tokenKindName names a token kind for error messages.
func TokenKindName(k byte) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case 't':
		return "true"
	case 'f':
		return "false"
	case 'n':
		return "null"
	}
	return fmt.Sprintf("%c", k)
}

// token reads one token as a streaming decoder (jsontext) would, to tell
// what a top-level value is or to report data after it: an opening
// bracket, a whole string, or the longest number or literal at the start
// of a word ("1x" reads 1, "truex" reads true: what follows is another
// token). c is its first byte. It returns the token kind.
func (s *Scanner) Token(c byte) (byte, bool) {
	switch c {
	case '{', '[':
		s.i++
		return c, true
	case '"':
		_, _, ok := s.Str()
		return '"', ok
	}
	start := s.Off()
	w, atEOF, ok := s.wordRun()
	if !ok {
		return 0, false
	}
	k, n, more := leadToken(w)
	switch {
	case k != 0:
		s.i -= len(w) - n // the rest of the word is the next token
		if k == '"' {
			s.sawNaN = true
		}
		return k, true
	case more && atEOF:
		return 0, s.stop()
	}
	if s.err == nil {
		if len(w) == 0 {
			s.err = newError(ErrMalformed, start, "invalid character %q at start of value", s.buf[s.i])
		} else {
			s.err = newError(ErrMalformed, start, "invalid value %q", clip(w))
		}
	}
	return 0, false
}

// leadToken returns the kind and length of the token a streaming decoder
// reads at the start of word w (kind 0: none), and whether w ends where
// the token needed more bytes.
func leadToken(w []byte) (kind byte, n int, more bool) {
	if IsNaNWord(w) {
		return '"', len(w), false // nanFilter quoted the whole word
	}
	if len(w) == 0 {
		return 0, 0, false
	}
	switch w[0] {
	case 't', 'f', 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if len(w) >= len(lit) && string(w[:len(lit)]) == lit {
				return lit[0], len(lit), false
			}
			if len(w) < len(lit) && string(w) == lit[:len(w)] {
				return 0, 0, true
			}
		}
		return 0, 0, false
	}
	i := 0
	if w[0] == '-' {
		i++
	}
	var ok bool
	switch {
	case i == len(w):
		return 0, 0, true
	case w[i] == '0':
		i++
	case w[i] >= '1' && w[i] <= '9':
		i, _, _ = digits(w, i)
	default:
		return 0, 0, false
	}
	if i < len(w) && w[i] == '.' {
		if i, ok, more = digits(w, i+1); !ok {
			return 0, 0, more
		}
	}
	if i < len(w) && (w[i] == 'e' || w[i] == 'E') {
		i++
		if i < len(w) && (w[i] == '+' || w[i] == '-') {
			i++
		}
		if i, ok, more = digits(w, i); !ok {
			return 0, 0, more
		}
	}
	return '0', i, false
}

// Err returns the first error the scanner met (nil while scanning goes on).
func (s *Scanner) Err() error { return s.err }

// Fail records err as the first error (a structural error the caller
// found, such as a second traceEvents array); scanning stops.
func (s *Scanner) Fail(err error) { s.err = err }

// Advance consumes the byte WS or WSEOF just returned (a delimiter).
func (s *Scanner) Advance() { s.i++ }

// Unread gives back the byte Advance consumed, so that an error names its
// offset.
func (s *Scanner) Unread() { s.i-- }

// Colon consumes a ':' right at the cursor (the usual "key":) without a
// refill; false leaves the cursor alone, and the caller, which may hold
// bytes of the window, copies them before Expect.
func (s *Scanner) Colon() bool {
	if s.i < s.n && s.buf[s.i] == ':' {
		s.i++
		return true
	}
	return false
}

// ValueStart returns the first byte of the value after a name (at the
// cursor), skipping whitespace; the common ": v" and ":v" need no call.
func (s *Scanner) ValueStart() (byte, bool) {
	if i := s.i; i+1 < s.n {
		if c := s.buf[i]; c > ' ' {
			return c, true
		}
		if c := s.buf[i+1]; s.buf[i] == ' ' && c > ' ' {
			s.i = i + 1
			return c, true
		}
	}
	return s.wsSlow()
}

// RawValue validates the value whose first byte c is at the cursor and
// returns its JSON text as nanFilter would have passed it on (bare NaN
// words quoted) and its kind. The result is valid until the next scan.
func (s *Scanner) RawValue(c byte, depth int) ([]byte, byte, bool) {
	switch c {
	case '{', '[':
		raw, ok := s.Capture(depth)
		return raw, c, ok
	case '"':
		raw, _, ok := s.Str()
		return raw, '"', ok
	}
	w, k, ok := s.Word()
	if ok && k == '"' {
		s.nanBuf = append(append(append(s.nanBuf[:0], '"'), w...), '"')
		w = s.nanBuf
	}
	return w, k, ok
}

// AfterMember consumes the ',' or the closing '}' after an object member;
// more reports a ','.
func (s *Scanner) AfterMember() (more, ok bool) {
	c, ok := s.WS()
	if !ok {
		return false, false
	}
	s.i++
	switch c {
	case ',':
		return true, true
	case '}':
		return false, true
	}
	s.i--
	return false, s.Syntax("invalid character %q after object member", c)
}

// Window sets the scan window to n bytes (tests: refills in every token).
func (s *Scanner) Window(n int) { s.buf = make([]byte, n) }
