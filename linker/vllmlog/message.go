package vllmlog

import (
	"math"
	"strconv"
	"strings"
)

// ParseMessage recognises the message part of a vLLM log record (what
// follows "[file:line] " in the text log, or the "message" field of a JSON
// line). Time, Resolution, Process and PID are left for the caller. It
// returns ErrNotRequestLine for messages that say nothing about requests.
// Prompt and output text are dropped unless allowText is true; token ids are
// always dropped.
func ParseMessage(msg string, allowText bool) (Record, error) {
	msg = strings.TrimRight(msg, "\r\n")
	switch {
	case strings.HasPrefix(msg, "Received request "):
		return parseReceived(msg[len("Received request "):], allowText)
	case strings.HasPrefix(msg, "Added request "):
		id := strings.TrimSuffix(msg[len("Added request "):], ".")
		return idRecord(KindAdded, id)
	case strings.HasPrefix(msg, "Generated response "):
		return parseGenerated(msg[len("Generated response "):], allowText)
	case strings.HasPrefix(msg, "Aborted request(s) "):
		return parseAbortedList(msg[len("Aborted request(s) "):])
	case strings.HasPrefix(msg, "Request "):
		return parseRequestOutcome(msg[len("Request "):])
	case strings.HasPrefix(msg, "Finished request "):
		id := strings.TrimSuffix(msg[len("Finished request "):], ".")
		return idRecord(KindFinished, id)
	case strings.HasPrefix(msg, "Iteration("):
		return parseIteration(msg[len("Iteration("):])
	}
	if k, ok := profileMarker(msg); ok {
		return newRecord(k), nil
	}
	return Record{}, ErrNotRequestLine
}

// profileMarker recognises uvicorn's access-log line for a successful
// profiler start or stop: `127.0.0.1:41000 - "POST /start_profile HTTP/1.1" 200 OK`.
func profileMarker(s string) (Kind, bool) {
	for _, m := range []struct {
		path string
		kind Kind
	}{{`"POST /start_profile `, KindProfileStart}, {`"POST /stop_profile `, KindProfileStop}} {
		i := strings.Index(s, m.path)
		if i < 0 {
			continue
		}
		rest := s[i+len(m.path):]
		q := strings.IndexByte(rest, '"')
		if q < 0 || !strings.HasPrefix(rest[q+1:], " 200") {
			return 0, false
		}
		return m.kind, true
	}
	return 0, false
}

func validID(id string) bool {
	if id == "" || len(id) > 512 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func idRecord(k Kind, id string) (Record, error) {
	if !validID(id) {
		return Record{}, malformed("message", k.String()+": bad request id")
	}
	r := newRecord(k)
	r.RequestIDs = []string{id}
	return r, nil
}

// parseReceived handles, newest first:
//
//	<id>: params: SamplingParams(…), lora_request: None.
//	<id>: prompt: '…', params: SamplingParams(…), prompt_token_ids: [1, 2], …
func parseReceived(s string, allowText bool) (Record, error) {
	ip := strings.Index(s, ": params: ")
	iq := strings.Index(s, ": prompt: ")
	var id, rest string
	switch {
	case iq >= 0 && (ip < 0 || iq < ip):
		id, rest = s[:iq], s[iq+len(": prompt: "):]
	case ip >= 0:
		id, rest = s[:ip], s[ip+len(": "):]
	default:
		return Record{}, malformed("message", "received: no params")
	}
	r, err := idRecord(KindReceived, id)
	if err != nil {
		return r, err
	}
	if iq >= 0 && (ip < 0 || iq < ip) { // old format: the prompt comes first
		n, text, ok := skipPyValue(rest)
		if !ok {
			// Unparseable prompt: keep the id, drop everything after it.
			return r, nil
		}
		if allowText {
			r.Prompt = text
		}
		rest = strings.TrimPrefix(rest[n:], ", ")
	}
	if strings.HasPrefix(rest, "params: ") {
		rest = rest[len("params: "):]
		if strings.HasPrefix(rest, "SamplingParams(") {
			n := parseSamplingParams(rest[len("SamplingParams("):], &r)
			rest = rest[len("SamplingParams(")+n:]
		}
	}
	if i := strings.Index(rest, "prompt_token_ids: "); i >= 0 {
		r.PromptTokens = countList(rest[i+len("prompt_token_ids: "):])
	}
	return r, nil
}

// parseSamplingParams reads key=value pairs up to the closing parenthesis and
// returns how many bytes it consumed.
func parseSamplingParams(s string, r *Record) int {
	depth := 0
	start := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"':
			quote = c
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			if depth == 0 {
				samplingField(s[start:i], r)
				return i + 1
			}
			depth--
		case ',':
			if depth == 0 {
				samplingField(s[start:i], r)
				start = i + 1
			}
		}
	}
	return len(s)
}

func samplingField(kv string, r *Record) {
	kv = strings.TrimSpace(kv)
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return
	}
	switch k {
	case "max_tokens":
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			r.MaxTokens = n
		}
	case "n":
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			r.N = n
		}
	case "temperature":
		if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 {
			r.Temperature = f
		}
	case "top_p":
		if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 {
			r.TopP = f
		}
	}
}

// countList counts the elements of a "[1, 2, 3]" list at the start of s;
// Unknown for "None" or anything else.
func countList(s string) int {
	if !strings.HasPrefix(s, "[") {
		return Unknown
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return Unknown
	}
	body := strings.TrimSpace(s[1:end])
	if body == "" {
		return 0
	}
	return strings.Count(body, ",") + 1
}

// skipPyValue skips a Python repr at the start of s: a quoted string (with
// backslash escapes, optionally b-prefixed) or None. It returns the bytes
// consumed and, for strings, the raw text between the quotes.
func skipPyValue(s string) (n int, text string, ok bool) {
	if strings.HasPrefix(s, "None") {
		return 4, "", true
	}
	i := 0
	if strings.HasPrefix(s, "b'") || strings.HasPrefix(s, "b\"") {
		i = 1
	}
	if i >= len(s) || (s[i] != '\'' && s[i] != '"') {
		return 0, "", false
	}
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case q:
			return j + 1, s[i+1 : j], true
		}
	}
	return 0, "", false
}

// parseGenerated handles "<id>[ (streaming delta)| (streaming complete)]:
// output: '…', output_token_ids: […], finish_reason: <r>".
func parseGenerated(s string, allowText bool) (Record, error) {
	i := strings.Index(s, ": output: ")
	if i < 0 {
		return Record{}, malformed("message", "generated: no output")
	}
	id, rest := s[:i], s[i+len(": output: "):]
	kind := KindGenerated
	switch {
	case strings.HasSuffix(id, " (streaming delta)"):
		id, kind = strings.TrimSuffix(id, " (streaming delta)"), KindDelta
	case strings.HasSuffix(id, " (streaming complete)"):
		id = strings.TrimSuffix(id, " (streaming complete)")
	}
	r, err := idRecord(kind, id)
	if err != nil {
		return r, err
	}
	if n, text, ok := skipPyValue(rest); ok {
		if allowText {
			r.Output = text
		}
		rest = rest[n:]
	}
	if ids, ok := strings.CutPrefix(rest, ", output_token_ids: "); ok {
		r.OutputTokens = countList(ids)
	}
	if j := strings.LastIndex(rest, ", finish_reason: "); j >= 0 {
		fr := strings.TrimSpace(rest[j+len(", finish_reason: "):])
		if fr != "None" && len(fr) <= 32 && validID(fr) {
			r.FinishReason = fr
		}
	}
	return r, nil
}

func parseAbortedList(s string) (Record, error) {
	s = strings.TrimSuffix(s, ".")
	r := newRecord(KindAborted)
	for _, id := range strings.Split(s, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if !validID(id) {
			return Record{}, malformed("message", "aborted: bad request id")
		}
		r.RequestIDs = append(r.RequestIDs, id)
	}
	if len(r.RequestIDs) == 0 {
		return Record{}, malformed("message", "aborted: no request ids")
	}
	return r, nil
}

// parseRequestOutcome handles "<id> aborted." and "<id> failed (…)…".
func parseRequestOutcome(s string) (Record, error) {
	if id, ok := strings.CutSuffix(s, " aborted."); ok && !strings.Contains(id, " failed ") {
		return idRecord(KindAborted, id)
	}
	for _, f := range []struct{ sep, reason string }{
		{" failed (engine dead)", "engine dead"},
		{" failed (bad request)", "bad request"},
		{" failed (input error)", "input error"},
		{" failed due to ", "error"},
	} {
		if i := strings.Index(s, f.sep); i > 0 {
			r, err := idRecord(KindFailed, s[:i])
			r.Reason = f.reason
			return r, err
		}
	}
	return Record{}, ErrNotRequestLine
}

// parseIteration handles "<i>): <a> context requests, <b> context tokens, <c>
// generation requests, <d> generation tokens, iteration elapsed time: <x> ms".
func parseIteration(s string) (Record, error) {
	bad := func(why string) (Record, error) { return Record{}, malformed("message", "iteration: "+why) }
	close := strings.IndexByte(s, ')')
	if close <= 0 {
		return bad("no index")
	}
	idx, ok := atoi(s[:close])
	if !ok {
		return bad("index")
	}
	s = strings.TrimPrefix(s[close+1:], ":")
	var nums [4]int
	for i, label := range []string{" context requests", " context tokens", " generation requests", " generation tokens"} {
		s = strings.TrimLeft(s, " ,")
		j := strings.Index(s, label)
		if j <= 0 {
			return bad("missing" + label)
		}
		n, ok := atoi(s[:j])
		if !ok {
			return bad(label)
		}
		nums[i] = n
		s = s[j+len(label):]
	}
	r := newRecord(KindIteration)
	r.Iteration = Iteration{Index: idx, ContextRequests: nums[0], ContextTokens: nums[1],
		GenerationRequests: nums[2], GenerationTokens: nums[3]}
	if j := strings.Index(s, "elapsed time: "); j >= 0 {
		v := strings.TrimSuffix(strings.TrimSpace(s[j+len("elapsed time: "):]), "ms")
		if ns, ok := decimalScaled(strings.TrimSpace(v), 6); ok {
			r.Iteration.ElapsedNs = ns
		}
	}
	return r, nil
}

func atoi(s string) (int, bool) {
	if s == "" || len(s) > 12 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// decimalScaled parses a non-negative decimal "123.456" exactly and returns
// it multiplied by 10^scale, truncating further digits.
func decimalScaled(s string, scale int) (int64, bool) {
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" || len(intPart)+scale > 19 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(intPart); i++ {
		c := intPart[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	for i := 0; i < scale; i++ {
		v *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v += uint64(c - '0')
		}
	}
	for i := scale; i < len(frac); i++ {
		if c := frac[i]; c < '0' || c > '9' {
			return 0, false
		}
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}
