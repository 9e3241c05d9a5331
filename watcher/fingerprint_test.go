package watcher

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	write(t, p, data)
	return p
}

// Every strict prefix of a valid gzip file whose content fits in the
// fingerprint's first 16 KiB reads as truncated, never as corrupt: a
// growing file must never be failed for being incomplete.
func TestGzipPrefixesAreTruncated(t *testing.T) {
	t.Parallel()
	first := testkit.Gzip(t, traceJSON("prefixes", 100))
	full := append(append([]byte(nil), first...), testkit.Gzip(t, traceJSON("second member", 3))...) // multi-member is valid too
	p := writeTemp(t, "x.1.pt.trace.json.gz", full)
	if _, err := fingerprint(os.Open, p, true, int64(len(full))); err != nil {
		t.Fatalf("complete file: %v", err)
	}
	for n := int64(0); n < int64(len(full)); n++ {
		// Checking a prefix of the file = checking a file of that size.
		_, err := fingerprint(os.Open, p, true, n)
		if n == int64(len(first)) {
			if err != nil { // exactly the first member: complete
				t.Fatalf("first member alone (%d bytes): %v", n, err)
			}
			continue
		}
		if !errors.Is(err, ErrTruncated) || errors.Is(err, ErrCorrupt) {
			t.Fatalf("prefix of %d/%d bytes: %v, want ErrTruncated only", n, len(full), err)
		}
	}
}

func TestCheckFile(t *testing.T) {
	t.Parallel()
	good := testkit.Gzip(t, traceJSON("good", 50))
	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-5] ^= 1
	badData := append([]byte(nil), good...)
	for i := 20; i < len(badData)-10; i++ {
		badData[i] = 0xff
	}
	tests := []struct {
		name string
		data []byte
		gz   bool
		want error // nil, ErrTruncated or ErrCorrupt
	}{
		{"gzip ok", good, true, nil},
		{"gzip bad header", []byte("{\"traceEvents\": []}   not gzip at all"), true, ErrCorrupt},
		{"gzip bad crc", badCRC, true, ErrCorrupt},
		{"gzip bad deflate", badData, true, ErrCorrupt},
		{"gzip empty", nil, true, ErrTruncated},
		{"gzip trailing garbage", append(append([]byte(nil), good...), "garbage after the member"...), true, ErrCorrupt},
		{"json ok", traceJSON("j", 5), false, nil},
		{"json ok no newline", []byte(`{"traceEvents":[]}`), false, nil},
		{"json cut: the converter's call", traceJSON("j", 5)[:60], false, nil},
		{"json not json: the converter's call", []byte("\x00\x01binary junk\xff"), false, nil},
		{"json empty", nil, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "x.1.pt.trace.json"
			if tt.gz {
				name += ".gz"
			}
			p := writeTemp(t, name, tt.data)
			fp, err := fingerprint(os.Open, p, tt.gz, int64(len(tt.data)))
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("want success, got %v", err)
			case tt.want == nil && fp == "":
				t.Fatal("empty fingerprint")
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			var fe *FileError
			if err != nil && (!errors.As(err, &fe) || fe.Path != p) {
				t.Errorf("error %v does not name the file", err)
			}
		})
	}
}

func TestFingerprintIdentity(t *testing.T) {
	t.Parallel()
	a := traceJSON("same", 2000)
	b := append([]byte(nil), a...)
	b[len(b)/2] = 'X' // differs only in the middle: head and tail hashes agree
	ga, gb := testkit.Gzip(t, a), testkit.Gzip(t, b)
	fp := func(data []byte, gzipped bool) string {
		name := "x.1.pt.trace.json"
		if gzipped {
			name += ".gz"
		}
		f, err := fingerprint(os.Open, writeTemp(t, name, data), gzipped, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if fp(ga, true) != fp(ga, true) {
		t.Error("same .gz content, different fingerprints")
	}
	if fp(ga, true) == fp(gb, true) {
		t.Error(".gz differing in the middle: the trailer CRC must tell them apart")
	}
	if fp(a, false) == fp(traceJSON("other", 2000), false) {
		t.Error("different .json content, same fingerprint")
	}
}

// FuzzCheckFile feeds arbitrary bytes to the watcher's check (the
// fingerprint): it must never panic and must classify every failure as
// truncated or corrupt.
func FuzzCheckFile(f *testing.F) {
	f.Add(testkit.Gzip(f, traceJSON("seed", 3)), true)
	f.Add(testkit.Gzip(f, traceJSON("seed", 3))[:30], true)
	f.Add(traceJSON("seed", 3), false)
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, true)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, gzipped bool) {
		p := filepath.Join(dir, "f.1.pt.trace.json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := fingerprint(os.Open, p, gzipped, int64(len(data)))
		if err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("unclassified error: %v", err)
		}
	})
}
