package logfiles

import (
	"bytes"
	"os"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker"
)

// FuzzDecodeFile feeds arbitrary file content, in two reads, through the
// line splitter, the container-format detection, the partial-line joiner
// and vLLM's parsers into a timeline: it never panics, counts every line
// once, and adds at most one record per line.
func FuzzDecodeFile(f *testing.F) {
	for _, p := range []string{h100CRI, h100Text} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b[:min(len(b), 4096)], uint16(1000))
		}
	}
	f.Add([]byte("2026-12-07T03:22:51.1Z stdout P (APIServer pid=7) INFO 12-07 03:22:51 [logger.py:63] Rec\n2026-12-07T03:22:51.2Z stdout F eived request x: params: None, lora_request: None.\n"), uint16(60))
	f.Add([]byte(`{"log":"{\"created\": 1796613771.5, \"message\": \"Received request x: params: None, lora_request: None.\"}\n","stream":"stderr","time":"2026-12-07T03:22:51Z"}`+"\n"), uint16(10))
	f.Add([]byte("\x00\x01\x02\n\xff\xfe\n"), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		tl := linker.NewTimeline(linker.TimelineOptions{})
		cfg := testConfig()
		cfg.MaxLineBytes = 512
		s, err := New(cfg, tl, nil)
		if err != nil {
			t.Fatal(err)
		}
		e := &entry{stream: "f.log", path: "f.log"}
		e.dec = s.newDecoder(candidate{path: "f.log", inFolder: true}, e)
		c := min(int(cut), len(data))
		s.feed(e, data[:c])
		s.feed(e, data[c:])
		s.finish(e)
		lines := int64(bytes.Count(data, []byte("\n")))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			lines++
		}
		st := s.Stats()
		if !e.dec.binary && st.Lines != lines {
			t.Fatalf("%d lines counted, the data has %d", st.Lines, lines)
		}
		if st.Records > st.Lines || e.offset != int64(len(data)) {
			t.Fatalf("%d records from %d lines; offset %d of %d bytes", st.Records, st.Lines, e.offset, len(data))
		}
	})
}
