package jsonscan

import (
	"math"
	"strconv"
)

// parseMicrosToNs converts a decimal number of microseconds written as text
// ("1712195495505583.047", "1694039968955744", "12.5", "-3.25") to exact
// integer nanoseconds without going through float64. Digits beyond the
// third decimal are truncated (Kineto writes exactly three). Exponent forms
// fall back to float64 rounding. ok is false for anything that is not a
// finite number in range.
func ParseMicrosToNs(b []byte) (ns int64, ok bool) {
	if len(b) == 0 {
		return 0, false
	}
	neg := false
	i := 0
	if b[0] == '-' {
		neg = true
		i = 1
	} else if b[0] == '+' {
		i = 1
	}
	var intPart int64
	digits := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if intPart > (math.MaxInt64/1000-9)/10 {
			return 0, false
		}
		intPart = intPart*10 + int64(b[i]-'0')
		digits++
	}
	var frac int64
	fracDigits := 0
	if i < len(b) && b[i] == '.' {
		i++
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if fracDigits < 3 {
				frac = frac*10 + int64(b[i]-'0')
			}
			fracDigits++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i != len(b) {
		if b[i] == 'e' || b[i] == 'E' {
			f, err := strconv.ParseFloat(string(b), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > math.MaxInt64/1000 {
				return 0, false
			}
			return int64(math.Round(f * 1000)), true
		}
		return 0, false
	}
	for n := fracDigits; n < 3; n++ {
		frac *= 10
	}
	ns = intPart*1000 + frac
	if neg {
		ns = -ns
	}
	return ns, true
}

// parseInt parses a JSON integer written as text. ok is false for
// fractions, exponents, non-numbers and overflow.
func ParseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := false
	i := 0
	if b[0] == '-' {
		neg, i = true, 1
	}
	if i == len(b) {
		return 0, false
	}
	var u uint64
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if u > (math.MaxUint64-9)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}
