package otlpproto

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp"
)

func delimited(bodies ...[]byte) []byte {
	var out []byte
	for _, b := range bodies {
		out = protowire.AppendVarint(out, uint64(len(b)))
		out = append(out, b...)
	}
	return out
}

// badID is a request whose only span has a 15-byte trace id.
var badID = protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), // resource_spans
	protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), // scope_spans
		protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), // spans
			append(protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), make([]byte, 15)), // trace_id
				protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), make([]byte, 8))...)))) // span_id

// TestUnmarshal: what proto.Marshal writes comes back equal, unknown
// fields included; what breaks protobuf or OTLP's id lengths is refused
// with an error matching otlp.ErrMalformed that says what was wrong.
func TestUnmarshal(t *testing.T) {
	want := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{ToProto(testBatches()["full"])}}
	body, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	known := len(body)
	body = protowire.AppendBytes(protowire.AppendTag(body, 99, protowire.BytesType), []byte("future"))
	got, err := Unmarshal(body)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.ProtoReflect().GetUnknown()) != string(body[known:]) {
		t.Errorf("unknown field not kept: %x", got.ProtoReflect().GetUnknown())
	}
	got.ProtoReflect().SetUnknown(nil)
	if again, _ := proto.Marshal(got); !bytes.Equal(again, body[:known]) {
		t.Error("round trip changed the message")
	}
	for name, tc := range map[string]struct {
		in      []byte
		wantErr string
	}{
		"not-protobuf": {[]byte{0xff}, "malformed OTLP data: protobuf: "},
		"bad-id":       {badID, "malformed OTLP data: resourceSpans[0].scopeSpans[0].spans[0].traceId has 15 bytes"},
	} {
		_, err := Unmarshal(tc.in)
		if !errors.Is(err, otlp.ErrMalformed) || !strings.HasPrefix(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want one starting %q", name, err, tc.wantErr)
		}
	}
}

func TestReadDelimited(t *testing.T) {
	batches := testBatches()
	want := []*coltracepb.ExportTraceServiceRequest{
		{ResourceSpans: []*tracepb.ResourceSpans{ToProto(batches["kernels"])}},
		{ResourceSpans: []*tracepb.ResourceSpans{ToProto(batches["long-name"]), ToProto(batches["version-only"])}},
		{},
	}
	var bodies [][]byte
	for _, r := range want {
		b, err := proto.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	in := delimited(bodies...)
	var got []*coltracepb.ExportTraceServiceRequest
	if err := ReadDelimited(bytes.NewReader(in), func(r *coltracepb.ExportTraceServiceRequest) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("request %d differs", i)
		}
	}

	stop := errors.New("stop")
	if err := ReadDelimited(bytes.NewReader(in), func(*coltracepb.ExportTraceServiceRequest) error { return stop }); err != stop {
		t.Fatalf("callback error not returned: %v", err)
	}
	if err := ReadDelimited(bytes.NewReader(nil), nil); err != nil {
		t.Fatalf("empty input: %v", err)
	}
	for name, tc := range map[string]struct {
		in   []byte
		want error
	}{
		"cut-in-body":   {in[:len(bodies[0])], io.ErrUnexpectedEOF},
		"cut-in-length": {append(delimited(bodies[0]), 0x80), io.ErrUnexpectedEOF},
		"overflow":      {bytes.Repeat([]byte{0xff}, 11), ErrDelimited},
		"too-large":     {protowire.AppendVarint(nil, MaxDelimitedMessage+1), ErrDelimited},
		"not-protobuf":  {delimited([]byte{0xff}), ErrDelimited},
		"bad-id":        {delimited(badID), otlp.ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			err := ReadDelimited(bytes.NewReader(tc.in), func(*coltracepb.ExportTraceServiceRequest) error { return nil })
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
