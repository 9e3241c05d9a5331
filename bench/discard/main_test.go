package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		wantOut string
	}{
		{"converts a trace", []string{"../../converter/testdata/golden/era_e_full.json"}, "", " spans, "},
		{"converts with a spill", []string{"-spill", "../../testdata/h100/dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz"}, "", "MB to the scratch file"},
		{"no files", nil, "need at least one trace file", ""},
		{"missing file", []string{"testdata/nope.json"}, "nope.json", ""},
		{"not a trace", []string{"main.go"}, "main.go", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tc.args, &out, &errOut)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tc.wantOut) || strings.Contains(out.String(), " 0 spans") {
				t.Fatalf("output %q", out.String())
			}
		})
	}
}
