package logfiles

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestFolderTaskFilesAppear: task files written into a followed folder
// while the Set runs are picked up, their requests carry the file's stem as
// task, and a step in their time links to them.
func TestFolderTaskFilesAppear(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "warmup.log"), request("chatcmpl-w0", 0))
	r := follow(t, testConfig(dir))
	waitFor(t, "the file present at start", func() bool { return r.finished("chatcmpl-w0") })
	writeFile(t, filepath.Join(dir, "bench-1.log"), textLine(10, "vLLM API server version 0.17.0")+request("chatcmpl-b1", 10))
	writeFile(t, filepath.Join(dir, "tenant-a", "batch-7.log.1"), request("chatcmpl-b7", 10))
	waitFor(t, "task files written later", func() bool { return r.finished("chatcmpl-b1") && r.finished("chatcmpl-b7") })
	for id, task := range map[string]string{"chatcmpl-w0": "warmup", "chatcmpl-b1": "bench-1", "chatcmpl-b7": "batch-7"} {
		q, _ := r.tl.Request(id)
		if q.Task != task {
			t.Errorf("%s: task %q, want %q", id, q.Task, task)
		}
	}
	// A decode step in the requests' second links to both.
	var emitted []*span.Batch
	l := linker.New(r.tl, func(b *span.Batch) error { emitted = append(emitted, b); return nil }, linker.Options{})
	ann, ok := enginestep.ParseAnnotation("execute_context_0(0)_generation_2(2)")
	if !ok {
		t.Fatal("annotation")
	}
	at := base.Add(10*time.Second + 500*time.Millisecond).UnixNano()
	lk := l.LinkStep(enginestep.Step{Index: 0, Name: "execute_context_0(0)_generation_2(2)", Annotation: ann, Start: at, End: at + 5e6,
		TraceID: span.TraceID{1}, RootSpanID: span.SpanID{1}, Resource: &span.Resource{}})
	if strings.Join(lk.RequestIDs, ",") != "chatcmpl-b1,chatcmpl-b7" {
		t.Fatalf("step linked to %v, want chatcmpl-b1 and chatcmpl-b7", lk.RequestIDs)
	}
	if err := l.Flush(true); err != nil {
		t.Fatal(err)
	}
	tasks := map[string]int{}
	for _, b := range emitted {
		for _, rs := range b.Spans {
			if v, ok := span.Lookup(rs.Attrs, linker.TaskAttr); ok {
				tasks[rs.Name+"/"+v.Str]++
			}
		}
	}
	for _, want := range []string{"llm_request/bench-1", "llm_request/batch-7", linker.RequestStepSpanName + "/bench-1"} {
		if tasks[want] == 0 {
			t.Errorf("no %s span with that task; got %v", want, tasks)
		}
	}
}

// TestLogrotateCopytruncate: logrotate copies the live file to .1 and
// truncates it in place; lines written before the copy are read once (from
// whichever copy), lines after the truncation from the live file.
func TestLogrotateCopytruncate(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "vllm.log")
	writeFile(t, live, request("chatcmpl-a", 0))
	r := follow(t, testConfig(live))
	r.waitRecords(t, 2)
	appendFile(t, live, request("chatcmpl-b", 2)) // may or may not be read before the copy
	b, err := os.ReadFile(live)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, live+".1", string(b))
	if err := os.Truncate(live, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, live, request("chatcmpl-c", 4))
	r.expectRecords(t, 6)
	for _, id := range []string{"chatcmpl-a", "chatcmpl-b", "chatcmpl-c"} {
		if !r.finished(id) {
			t.Errorf("%s not read", id)
		}
	}
	if st := r.set.Stats(); st.Truncations != 1 {
		t.Errorf("stats %+v, want one truncation", st)
	}
	// Compressing the copy later reads nothing again.
	if err := os.WriteFile(live+".2.gz", gz(t, string(b)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(live + ".1"); err != nil {
		t.Fatal(err)
	}
	r.expectRecords(t, 6)
}

// TestLogrotateCreate: logrotate renames the live file to .1 and vLLM
// (through a shell redirect) keeps writing the renamed file for a while;
// a new live file appears; later .1 is compressed to .2.gz. Every line is
// read exactly once.
func TestLogrotateCreate(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "vllm.log")
	writeFile(t, live, request("chatcmpl-a", 0))
	r := follow(t, testConfig(filepath.Join(dir, "*.log")))
	r.waitRecords(t, 2)
	if err := os.Rename(live, live+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, live+".1", request("chatcmpl-b", 2)) // the old handle still writes
	writeFile(t, live, request("chatcmpl-c", 4))
	r.expectRecords(t, 6)
	old, err := os.ReadFile(live + ".1")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(live+".2.gz", gz(t, string(old)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(live + ".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, live, request("chatcmpl-d", 6))
	r.expectRecords(t, 8)
	for _, id := range []string{"chatcmpl-a", "chatcmpl-b", "chatcmpl-c", "chatcmpl-d"} {
		if !r.finished(id) {
			t.Errorf("%s not read", id)
		}
	}
	if q, _ := r.tl.Request("chatcmpl-a"); q.Task != "" {
		t.Errorf("a file named by a glob got task %q; only folders give one by default", q.Task)
	}
}

// TestRotatedGzipReadOnce: a .gz rotated file present at start is read,
// once; renamed (.1.gz → .2.gz, the next rotation) it is not read again.
func TestRotatedGzipReadOnce(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "vllm.log")
	writeFile(t, live, request("chatcmpl-new", 10))
	if err := os.WriteFile(live+".1.gz", gz(t, request("chatcmpl-old", 0)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := follow(t, testConfig(live))
	r.expectRecords(t, 4)
	if !r.finished("chatcmpl-old") || !r.finished("chatcmpl-new") {
		t.Fatal("the rotated .gz or the live file was not read")
	}
	if err := os.Rename(live+".1.gz", live+".2.gz"); err != nil {
		t.Fatal(err)
	}
	r.expectRecords(t, 4)
	if st := r.set.Stats(); st.Duplicates == 0 {
		t.Errorf("the renamed .gz was not recognised as read: %+v", st)
	}
}

// TestReadOnceGlobAndGzip is convert's path: globs and .gz files, each
// content read once even when two names hold it.
func TestReadOnceGlobAndGzip(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "vllm.log"), request("chatcmpl-a", 4))
	writeFile(t, filepath.Join(dir, "vllm.log.1"), request("chatcmpl-b", 2))
	if err := os.WriteFile(filepath.Join(dir, "vllm.log.1.gz"), gz(t, request("chatcmpl-b", 2)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vllm.log.2.gz"), gz(t, request("chatcmpl-c", 0)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(filepath.Join(dir, "vllm.log*"))
	cfg.Rotated = false
	r := readOnce(t, cfg)
	if got := r.set.Stats().Records; got != 6 {
		t.Fatalf("%d records, want 6 (three requests, the .1 and .1.gz copy read once)", got)
	}
	for _, id := range []string{"chatcmpl-a", "chatcmpl-b", "chatcmpl-c"} {
		if !r.finished(id) {
			t.Errorf("%s not read", id)
		}
	}
	if n := len(r.set.Files()); n != 3 {
		t.Errorf("%d files, want 3: %+v", n, r.set.Files())
	}
}

// TestCRIPartialLines: a kubelet log with a line cut into P fragments,
// stderr lines between them, and the runtime's nanosecond timestamps as the
// lines' times.
func TestCRIPartialLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "default_vllm-0_5f0c", "vllm", "0.log")
	recv := textLine(0, received("chatcmpl-x"))
	recv = recv[:len(recv)-1]
	cut := len(recv) / 3
	cri := "2026-12-07T03:22:51.0000001Z stdout P " + recv[:cut] + "\n" +
		"2026-12-07T03:22:51.000000150Z stderr F (APIServer pid=7) WARNING 12-07 03:22:51 [api_server.py:1] a warning\n" +
		"2026-12-07T03:22:51.000000200Z stdout P " + recv[cut:2*cut] + "\n" +
		"2026-12-07T03:22:51.000000300Z stdout F " + recv[2*cut:] + "\n" +
		"2026-12-07T03:22:52.123456789Z stderr F " + strings.TrimSuffix(textLine(1, generated("chatcmpl-x")), "\n") + "\n"
	writeFile(t, path, cri)
	r := follow(t, testConfig(filepath.Join(dir, "*vllm*", "vllm", "*.log")))
	waitFor(t, "the request", func() bool { return r.finished("chatcmpl-x") })
	q, _ := r.tl.Request("chatcmpl-x")
	if want := base.UnixNano() + 100; q.Arrival != want || q.ArrivalRes != 100 {
		t.Errorf("arrival %d (res %d), want the first fragment's time %d at 100 ns", q.Arrival, q.ArrivalRes, want)
	}
	if want := base.Add(time.Second).UnixNano() + 123456789; q.Finish != want || q.FinishRes != 1 {
		t.Errorf("finish %d (res %d), want the stderr line's runtime time %d", q.Finish, q.FinishRes, want)
	}
	if q.Task != "" {
		t.Errorf("a container log got task %q", q.Task)
	}
	if q.MaxTokens != 16 {
		t.Errorf("max_tokens %d: the joined line was not read whole", q.MaxTokens)
	}
}

// TestDockerJSONFile: Docker's json-file driver, a line cut in two
// (Docker splits at 16 KiB), times from the driver, JSON-log lines inside.
func TestDockerJSONFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "3f9a1c7e", "3f9a1c7e-json.log")
	msg := `{"created": 1796613771.5, "levelname": "INFO", "message": "` + received("chatcmpl-d") + `"}`
	dl := func(log, stream, ts string) string {
		return fmt.Sprintf(`{"log":%q,"stream":%q,"time":%q}`+"\n", log, stream, ts)
	}
	doc := dl("(APIServer pid=7) "+msg[:40], "stdout", "2026-12-07T03:22:51.25Z") +
		dl(msg[40:]+"\n", "stdout", "2026-12-07T03:22:51.250001Z") +
		dl(`{"created": 1796613772.5, "message": "`+generated("chatcmpl-d")+`"}`+"\n", "stderr", "2026-12-07T03:22:52.75Z")
	writeFile(t, path, doc)
	cfg := testConfig(dir)
	r := follow(t, cfg)
	waitFor(t, "the request", func() bool { return r.finished("chatcmpl-d") })
	q, _ := r.tl.Request("chatcmpl-d")
	if want := base.Add(250 * time.Millisecond).UnixNano(); q.Arrival != want {
		t.Errorf("arrival %d, want the driver's %d", q.Arrival, want)
	}
	if want := base.Add(1750 * time.Millisecond).UnixNano(); q.Finish != want {
		t.Errorf("finish %d, want the driver's %d", q.Finish, want)
	}
	if q.Task != "" || q.Source != linker.SourceJSONLog {
		t.Errorf("task %q source %v, want none and json_log", q.Task, q.Source)
	}
	fs := r.set.Files()
	if len(fs) != 1 || fs[0].Container != "docker-json" || fs[0].Format != "json" {
		t.Errorf("files %+v", fs)
	}
}

// TestOneRequestInTwoFiles: an API server restarted mid-request wrote the
// Received line to one file and the Generated line to the next: one
// request, with both times.
func TestOneRequestInTwoFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.log"), textLine(0, received("chatcmpl-m")))
	writeFile(t, filepath.Join(dir, "b.log"), textLine(3, generated("chatcmpl-m")))
	r := readOnce(t, testConfig(dir))
	if n := r.tl.Len(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	q, _ := r.tl.Request("chatcmpl-m")
	if q.Arrival != base.UnixNano() || q.Finish != base.Add(3*time.Second).UnixNano() {
		t.Fatalf("request %+v", q)
	}
}

// TestTaskPattern: a regular expression's task group names the task, also
// for container logs.
func TestTaskPattern(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "tenant-a", "run.log"), request("chatcmpl-t", 0))
	writeFile(t, filepath.Join(dir, "tenant-b", "0.log"), "2026-12-07T03:22:51.5Z stdout F "+textLine(0, received("chatcmpl-u")))
	cfg := testConfig(dir)
	cfg.TaskPattern = `/(?P<task>tenant-[a-z])/`
	r := readOnce(t, cfg)
	for id, want := range map[string]string{"chatcmpl-t": "tenant-a", "chatcmpl-u": "tenant-b"} {
		if q, _ := r.tl.Request(id); q.Task != want {
			t.Errorf("%s: task %q, want %q", id, q.Task, want)
		}
	}
	cfg.TaskPattern = "none"
	r = readOnce(t, cfg)
	if q, _ := r.tl.Request("chatcmpl-t"); q.Task != "" {
		t.Errorf("task %q with tasks off", q.Task)
	}
	for _, bad := range []string{"(", "tenant-(?P<name>x)"} {
		if _, err := New(Config{Patterns: []string{dir}, TaskPattern: bad}, nil, nil); err == nil {
			t.Errorf("task pattern %q accepted", bad)
		}
	}
}

// TestBoundedFollowing: with room for one open file, the others queue; all
// are read, and idle files are closed.
func TestBoundedFollowing(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 4; i++ {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("task-%d.log", i)), request(fmt.Sprintf("chatcmpl-%d", i), i))
	}
	cfg := testConfig(dir)
	cfg.MaxFollowed = 1
	cfg.IdleClose = 30 * time.Millisecond
	tl := linker.NewTimeline(linker.TimelineOptions{})
	s, err := New(cfg, tl, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.scan(true)
	if st := s.Stats(); st.Queued != 4 || st.Followed != 0 {
		t.Fatalf("after the first scan: %+v, want 4 queued", st)
	}
	s.pollOpen(time.Now())
	if st := s.Stats(); st.Queued != 3 || st.Followed != 1 || st.Records != 2 {
		t.Fatalf("after one poll: %+v, want 1 followed, 3 queued", st)
	}
	s.pollOpen(time.Now()) // the first file is read to its end: its slot goes to the next
	if st := s.Stats(); st.Queued != 2 || st.Followed != 1 || st.Records != 4 {
		t.Fatalf("after two polls: %+v, want 1 followed, 2 queued, two files read", st)
	}
	bg := follow(t, cfg) // the same files through Run
	bg.waitRecords(t, 8)
	waitFor(t, "idle files closed", func() bool { st := bg.set.Stats(); return st.Followed == 0 && st.Queued == 0 })
	appendFile(t, filepath.Join(dir, "task-2.log"), request("chatcmpl-late", 9))
	waitFor(t, "a closed file that grew", func() bool { return bg.finished("chatcmpl-late") })
}

// TestBadInput: a binary file, a file without a vLLM line, a multi-MB
// line and invalid UTF-8 are skipped with one warning each; the good lines
// beside them are read.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	bin := make([]byte, 4096)
	for i := range bin {
		bin[i] = byte(i * 7)
	}
	writeFile(t, filepath.Join(dir, "core.bin"), string(bin))
	writeFile(t, filepath.Join(dir, "other-app.log"), strings.Repeat("GET /healthz 200\n", 50))
	writeFile(t, filepath.Join(dir, "huge.log"), request("chatcmpl-h1", 0)+textLine(2, strings.Repeat("x", 3<<20))+textLine(2, strings.Repeat("y", 2<<20))+request("chatcmpl-h2", 3))
	writeFile(t, filepath.Join(dir, "latin1.log"), request("chatcmpl-l1", 0)+textLine(2, received("chatcmpl-\xe9\xff"))+textLine(2, "caf\xe9")+request("chatcmpl-l2", 3))
	r := readOnce(t, testConfig(dir))
	for _, id := range []string{"chatcmpl-h1", "chatcmpl-h2", "chatcmpl-l1", "chatcmpl-l2"} {
		if !r.finished(id) {
			t.Errorf("%s beside the bad lines not read", id)
		}
	}
	if n := r.tl.Len(); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
	if got := r.warnings(); got != 4 {
		t.Errorf("%d warnings, want one per bad file (4):\n%s", got, r.logs.String())
	}
	for _, want := range []string{"binary data", "no vLLM log line", "longer than the line cap", "not valid UTF-8"} {
		if !strings.Contains(r.logs.String(), want) {
			t.Errorf("no warning saying %q:\n%s", want, r.logs.String())
		}
	}
	if strings.Contains(r.logs.String(), "secret answer") {
		t.Error("the log output carries a vLLM output text")
	}
}

// TestFromEndAndWatermark: with FromEnd, a file present at start is read
// only from its end, a file created later from its start; once everything
// is read, the sources' watermark reaches the present (the daemon's hold
// for request data waits on it).
func TestFromEndAndWatermark(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "old.log"), request("chatcmpl-before", 0))
	cfg := testConfig(dir)
	cfg.FromEnd = true
	r := follow(t, cfg)
	time.Sleep(100 * time.Millisecond) // several scans
	appendFile(t, filepath.Join(dir, "old.log"), request("chatcmpl-after", 5))
	writeFile(t, filepath.Join(dir, "new.log"), request("chatcmpl-new", 6))
	r.expectRecords(t, 4)
	if _, ok := r.tl.Request("chatcmpl-before"); ok {
		t.Error("a line present at start was read with FromEnd")
	}
	if !r.finished("chatcmpl-after") || !r.finished("chatcmpl-new") {
		t.Error("new lines not read")
	}
	start := time.Now().UnixNano()
	waitFor(t, "the watermark", func() bool { return r.tl.Watermark(linker.SourceTextLog) >= start })
}

// TestGzipWrittenWhileFollowed: logrotate compresses into the .gz in
// place; a .gz seen half written is read on when it is complete, and its
// cut last line is not delivered as a line.
func TestGzipWrittenWhileFollowed(t *testing.T) {
	dir := t.TempDir()
	var content strings.Builder
	for i := 0; i < 40; i++ {
		content.WriteString(request(fmt.Sprintf("chatcmpl-%02d", i), i))
	}
	full := gz(t, content.String())
	path := filepath.Join(dir, "vllm.log.1.gz")
	if err := os.WriteFile(path, full[:len(full)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	r := follow(t, testConfig(filepath.Join(dir, "vllm.log")))
	waitFor(t, "the first half", func() bool { return r.set.Stats().Records > 0 })
	if err := os.WriteFile(path, full, 0o644); err != nil {
		t.Fatal(err)
	}
	r.expectRecords(t, 80)
	if r.tl.Len() != 40 {
		t.Fatalf("%d requests, want 40", r.tl.Len())
	}
	fs := r.set.Files()
	if len(fs) != 1 || fs[0].Malformed != 0 || fs[0].Lines != 80 {
		t.Fatalf("files %+v: want one file of 80 whole lines", fs)
	}
}
