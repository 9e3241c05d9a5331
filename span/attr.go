package span

import "math"

// ValueType says which field of a Value holds its data.
type ValueType uint8

// Value types, a subset of OTLP AnyValue that covers everything we emit.
const (
	TypeEmpty ValueType = iota
	TypeString
	TypeInt
	TypeDouble
	TypeBool
	TypeStringSlice
	TypeIntSlice
)

// Value is a typed attribute value without interface boxing. Only the field
// named by Type is meaningful.
type Value struct {
	Type ValueType
	Str  string
	Num  int64 // TypeInt; TypeBool as 0/1; TypeDouble as math.Float64bits
	Strs []string
	Ints []int64
}

// Attr is one key/value attribute.
type Attr struct {
	Key   string
	Value Value
}

// String returns a string attribute.
func String(k, v string) Attr { return Attr{k, Value{Type: TypeString, Str: v}} }

// Int returns an integer attribute.
func Int(k string, v int64) Attr { return Attr{k, Value{Type: TypeInt, Num: v}} }

// Float returns a double attribute.
func Float(k string, v float64) Attr {
	return Attr{k, Value{Type: TypeDouble, Num: int64(math.Float64bits(v))}}
}

// Bool returns a boolean attribute.
func Bool(k string, v bool) Attr {
	var n int64
	if v {
		n = 1
	}
	return Attr{k, Value{Type: TypeBool, Num: n}}
}

// Strings returns a string-array attribute. The slice is not copied.
func Strings(k string, v []string) Attr { return Attr{k, Value{Type: TypeStringSlice, Strs: v}} }

// Ints returns an integer-array attribute. The slice is not copied.
func Ints(k string, v []int64) Attr { return Attr{k, Value{Type: TypeIntSlice, Ints: v}} }

// AsFloat returns the double held by a TypeDouble value.
func (v Value) AsFloat() float64 { return math.Float64frombits(uint64(v.Num)) }

// AsBool returns the boolean held by a TypeBool value.
func (v Value) AsBool() bool { return v.Num != 0 }

// Lookup returns the value of the first attribute named key.
func Lookup(attrs []Attr, key string) (Value, bool) {
	for i := range attrs {
		if attrs[i].Key == key {
			return attrs[i].Value, true
		}
	}
	return Value{}, false
}
