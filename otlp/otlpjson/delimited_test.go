package otlpjson

import (
	"bytes"
	"errors"
	"io"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpproto"
)

func delimited(bodies ...[]byte) []byte {
	var out []byte
	for _, b := range bodies {
		out = protowire.AppendVarint(out, uint64(len(b)))
		out = append(out, b...)
	}
	return out
}

func TestReadDelimited(t *testing.T) {
	want := []*coltracepb.ExportTraceServiceRequest{
		{ResourceSpans: []*tracepb.ResourceSpans{otlpproto.ToProto(testBatch())}},
		rawRequest(),
		{},
	}
	var bodies [][]byte
	for _, r := range want {
		bodies = append(bodies, marshal(t, r))
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
	} {
		t.Run(name, func(t *testing.T) {
			err := ReadDelimited(bytes.NewReader(tc.in), func(*coltracepb.ExportTraceServiceRequest) error { return nil })
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
