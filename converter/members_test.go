package converter

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// jsontextMembers frames obj's members with jsontext, the reference.
func jsontextMembers(obj []byte) ([][2]string, error) {
	d := jsontext.NewDecoder(bytes.NewReader(obj), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if _, err := d.ReadToken(); err != nil {
		return nil, err
	}
	var out [][2]string
	for d.PeekKind() != '}' {
		k, err := d.ReadValue()
		if err != nil {
			return nil, err
		}
		ks := string(k)
		v, err := d.ReadValue()
		if err != nil {
			return nil, err
		}
		out = append(out, [2]string{ks, string(v)})
	}
	if _, err := d.ReadToken(); err != nil {
		return nil, err
	}
	return out, nil
}

func iterMembers(obj []byte) [][2]string {
	var out [][2]string
	it := newMemberIter(obj)
	for {
		k, v, ok := it.next()
		if !ok {
			return out
		}
		out = append(out, [2]string{string(k), string(v)})
	}
}

func TestMemberIter(t *testing.T) {
	for _, obj := range []string{
		`{}`,
		`{ }`,
		`{"ph":"X"}`,
		"{\n    \"ph\": \"X\", \"cat\": \"kernel\",\n    \"ts\": 12.5, \"dur\": -3e2,\n    \"args\": {\n      \"grid\": [1, 2, 3], \"n\": null, \"t\": true, \"f\": false\n    }\n  }",
		`{"a\"b":"c\\","d":"\\\"","e":"\u0022}","f":[{"g":"]"},["}"]],"h":{}}`,
		`{"x":"caf\u00e9 \ud83d\ude00","y":"\\\\\\"}`,
		`{"a":1,"a":2}`,
		"{\"bad utf8\":\"\xff\xfe\"}",
	} {
		want, err := jsontextMembers([]byte(obj))
		if err != nil {
			t.Fatalf("%s: reference: %v", obj, err)
		}
		if got := iterMembers([]byte(obj)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s:\n got %q\nwant %q", obj, got, want)
		}
	}
}

// FuzzMemberIter: on any object jsontext accepts, memberIter frames the
// same members; on anything else it must not panic.
func FuzzMemberIter(f *testing.F) {
	f.Add([]byte(`{"ph":"X","args":{"a":[1,{"b":"}"}],"c":"\"\\"}}`))
	f.Add([]byte(`{"a":`))
	f.Add([]byte(`{"a":"\`))
	f.Fuzz(func(t *testing.T, obj []byte) {
		got := iterMembers(obj)
		if len(obj) == 0 || obj[0] != '{' {
			return
		}
		want, err := jsontextMembers(obj)
		if err != nil {
			return
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%q:\n got %q\nwant %q", obj, got, want)
		}
	})
}
