package exporter

import (
	"crypto/tls"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"
)

// spelled is an OptionSet whose options are their own descriptions, so a
// test reads what AppendClientOptions chose.
var spelled = OptionSet[string]{
	EndpointURL: func(s string) string { return "url " + s },
	Endpoint:    func(s string) string { return "host " + s },
	TLS:         func(c *tls.Config) string { return "tls " + c.ServerName },
	Insecure:    func() string { return "insecure" },
	Headers:     func(h map[string]string) string { return "headers " + h["k"] },
	Timeout:     func(d time.Duration) string { return "timeout " + d.String() },
}

func TestAppendClientOptionsPassesOnlyWhatIsSet(t *testing.T) {
	tlsCfg := &tls.Config{ServerName: "backend"}
	for _, tc := range []struct {
		name string
		o    TransportOptions
		tls  *tls.Config
		want []string
	}{
		{"nothing set", TransportOptions{}, nil, []string{"first"}},
		{"url", TransportOptions{Endpoint: "https://c:4318/v1/traces"}, nil, []string{"first", "url https://c:4318/v1/traces"}},
		{"host:port", TransportOptions{Endpoint: "c:4317"}, nil, []string{"first", "host c:4317"}},
		{"insecure", TransportOptions{Insecure: true}, nil, []string{"first", "insecure"}},
		{"tls", TransportOptions{}, tlsCfg, []string{"first", "tls backend"}},
		{"tls before insecure", TransportOptions{Insecure: true}, tlsCfg, []string{"first", "tls backend"}},
		{"empty headers are set", TransportOptions{Headers: map[string]string{}}, nil, []string{"first", "headers "}},
		{"everything", TransportOptions{Endpoint: "c:4317", Headers: map[string]string{"k": "v"}, Timeout: 3 * time.Second}, tlsCfg,
			[]string{"first", "host c:4317", "tls backend", "headers v", "timeout 3s"}},
		{"zero timeout is the client's", TransportOptions{Timeout: 0, Compression: "gzip"}, nil, []string{"first"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := AppendClientOptions([]string{"first"}, tc.o, tc.tls, spelled); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGRPCTLSMakesTLSCredentials(t *testing.T) {
	var got credentials.TransportCredentials
	opt := GRPCTLS(func(c credentials.TransportCredentials) int { got = c; return 7 })(&tls.Config{ServerName: "backend"})
	if opt != 7 || got == nil {
		t.Fatalf("option %d, credentials %v", opt, got)
	}
	if info := got.Info(); info.SecurityProtocol != "tls" || info.ServerName != "backend" {
		t.Fatalf("credentials %+v; want tls for backend", info)
	}
}
