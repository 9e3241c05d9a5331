package checkpoint

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// FuzzDecode checks that Decode never panics and that whatever it accepts
// survives Encode and Decode unchanged.
func FuzzDecode(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "v1.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"records":[]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"records":[{"fingerprint":"a","size":-1,"status":"failed","at":"2026-01-01T00:00:00Z"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := Decode("fuzz", data)
		if err != nil {
			return
		}
		enc, err := Encode(recs, time.Unix(0, 0))
		if err != nil {
			t.Fatalf("Encode of decoded records: %v", err)
		}
		again, err := Decode("fuzz", enc)
		if err != nil {
			t.Fatalf("Decode of encoded records: %v\n%s", err, enc)
		}
		if len(recs) == 0 && len(again) == 0 {
			return
		}
		for i := range recs { // compare times by instant, not by location
			if !recs[i].At.Equal(again[i].At) || !recs[i].LastSeen.Equal(again[i].LastSeen) {
				t.Fatalf("times changed: %+v vs %+v", recs[i], again[i])
			}
			recs[i].At, again[i].At = time.Time{}, time.Time{}
			recs[i].LastSeen, again[i].LastSeen = time.Time{}, time.Time{}
		}
		if !reflect.DeepEqual(recs, again) {
			t.Fatalf("round trip changed records:\n%+v\n%+v", recs, again)
		}
	})
}
