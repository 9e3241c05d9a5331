package converter

import (
	"maps"
	"strings"
	"testing"
)

// booksTrace has one event for every way an event is accounted for.
const booksTrace = `{"traceEvents":[
{"ph":"X","cat":"user_annotation","name":"execute_new_1_cached_0","pid":1,"tid":1,"ts":0,"dur":100},
{"ph":"X","cat":"python_function","name":"f.py(1): g","pid":1,"tid":1,"ts":5,"dur":80},
{"ph":"X","cat":"cpu_op","name":"aten::mm","pid":1,"tid":1,"ts":10,"dur":50},
{"ph":"X","cat":"cuda_runtime","name":"cudaLaunchKernel","pid":1,"tid":1,"ts":20,"dur":5,"args":{"correlation":1}},
{"ph":"X","cat":"kernel","name":"k","pid":0,"tid":7,"ts":30,"dur":10,"args":{"correlation":1,"device":0,"stream":7}},
{"ph":"s","cat":"ac2g","id":1,"pid":1,"tid":1,"ts":20},
{"ph":"f","cat":"ac2g","id":1,"pid":0,"tid":7,"ts":30,"bp":"e"},
{"ph":"s","cat":"fwdbwd","id":9,"pid":1,"tid":1,"ts":10},
{"ph":"f","cat":"fwdbwd","id":9,"pid":1,"tid":1,"ts":10,"bp":"e"},
{"ph":"M","name":"thread_name","pid":1,"tid":1,"args":{"name":"main"}},
{"ph":"X","cat":"Trace","name":"PyTorch Profiler","pid":"Spans","tid":"PyTorch Profiler","ts":0,"dur":200},
{"ph":"i","name":"Iteration Start: PyTorch Profiler","pid":"Traces","tid":"x","ts":0,"s":"g"},
{"ph":"i","cat":"cpu_instant_event","name":"[memory]","pid":1,"tid":1,"ts":12,"s":"t","args":{"Bytes":512}},
{"ph":"X","cat":"cpu_op","name":"no time","pid":1,"tid":1,"dur":3},
5
]}`

func TestBooks(t *testing.T) {
	_, st, err := convertBytes(t, []byte(booksTrace), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Balance{
		"user_annotation":   {Read: 1, Spans: 1},
		"python_function":   {Read: 1, Omitted: map[string]int64{OmitPythonFolded: 1}},
		"cpu_op":            {Read: 2, Spans: 1, Omitted: map[string]int64{OmitNoTimestamp: 1}},
		"cuda_runtime":      {Read: 1, Spans: 1},
		"kernel":            {Read: 1, Spans: 1},
		"ac2g":              {Read: 2, Omitted: map[string]int64{OmitFlow: 2}},
		"fwdbwd":            {Read: 2, Omitted: map[string]int64{OmitFlow: 2}},
		"":                  {Read: 3, Omitted: map[string]int64{OmitMetadata: 1, OmitKinetoInternal: 1, OmitNotObject: 1}},
		"Trace":             {Read: 1, Omitted: map[string]int64{OmitKinetoInternal: 1}},
		"cpu_instant_event": {Read: 1, SpanEvents: 1},
	}
	if !maps.EqualFunc(st.Books, want, func(a, b Balance) bool {
		return a.Read == b.Read && a.Spans == b.Spans && a.SpanEvents == b.SpanEvents && a.Capped == b.Capped && maps.Equal(a.Omitted, b.Omitted)
	}) {
		t.Fatalf("books:\n got %+v\nwant %+v", st.Books, want)
	}
	if st.Events != 15 || st.SpansEmitted != 6 || st.StepRoots != 1 {
		t.Fatalf("%d events, %d spans, %d step roots; want 15, 6 (4 from events, the profile root, the step root) and 1", st.Events, st.SpansEmitted, st.StepRoots)
	}
	line := st.BooksLine()
	for _, w := range []string{"books balanced", "15 events read = 4 spans + 1 span events + 0 capped + 10 not exported",
		"kineto_internal 2, metadata 1, flow 4, python_folded 1, no_timestamp 1, not_an_object 1"} {
		if !strings.Contains(line, w) {
			t.Errorf("BooksLine %q lacks %q", line, w)
		}
	}

	// The cap: the step keeps its root, its rank span and the longest
	// span (aten::mm); the launch and its kernel are left out and booked
	// as capped.
	opts := DefaultOptions()
	opts.MaxSpansPerTrace = 3
	_, st, err = convertBytes(t, []byte(booksTrace), opts)
	if err != nil {
		t.Fatal(err)
	}
	if b := st.Books["cuda_runtime"]; b.Capped != 1 || b.Spans != 0 {
		t.Errorf("cuda_runtime under the cap: %+v", b)
	}
	if b := st.Books["kernel"]; b.Capped != 1 || b.Spans != 0 {
		t.Errorf("kernel under the cap: %+v", b)
	}
	if st.SpansDropped != 2 {
		t.Errorf("SpansDropped = %d, want 2", st.SpansDropped)
	}
}

// TestCheckBooks: books that do not add up are reported with their
// categories and counts, and so are emitted totals the books do not
// explain.
func TestCheckBooks(t *testing.T) {
	st := Stats{Traces: 2, Steps: 1, SpansEmitted: 3, Books: map[string]Balance{
		"cpu_op": {Read: 3, Spans: 1, Omitted: map[string]int64{OmitNoTimestamp: 1}},
		"kernel": {Read: 1, Spans: 1},
	}}
	err := st.CheckBooks()
	if err == nil {
		t.Fatal("unbalanced books pass")
	}
	for _, w := range []string{"cpu_op: 3 read, 2 accounted", "1 unaccounted"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "kernel") {
		t.Errorf("%q names the balanced kernel books", err)
	}
	if st.Unaccounted() != 1 || !strings.Contains(st.BooksLine(), "NOT BALANCED, 1 events unaccounted") {
		t.Errorf("Unaccounted %d, line %q", st.Unaccounted(), st.BooksLine())
	}
	st.Books["cpu_op"] = Balance{Read: 3, Spans: 1, Omitted: map[string]int64{OmitNoTimestamp: 2}}
	if err := st.CheckBooks(); err != nil {
		t.Errorf("balanced books: %v", err)
	}
	st.SpanEvents = 4
	if err := st.CheckBooks(); err == nil || !strings.Contains(err.Error(), "4 span events emitted") {
		t.Errorf("span events the books do not count: %v", err)
	}
}
