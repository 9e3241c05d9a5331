package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the daemon's whole configuration: the YAML file's shape. Every
// key can also be set by a flag and an environment variable (see flags.go);
// precedence is defaults < file < environment < flags.
type Config struct {
	ServiceName        string            `yaml:"service_name"`
	ResourceAttributes map[string]string `yaml:"resource_attributes"`

	Profiler ProfilerConfig `yaml:"profiler"`
	// StateFile records which trace files were fully exported.
	StateFile string          `yaml:"state_file"`
	Convert   ConvertConfig   `yaml:"convert"`
	Requests  RequestsConfig  `yaml:"requests"`
	Receiver  ReceiverConfig  `yaml:"receiver"`
	Output    OutputConfig    `yaml:"output"`
	Telemetry TelemetryConfig `yaml:"telemetry"`
	Log       LogConfig       `yaml:"log"`
	// ShutdownTimeout bounds how long SIGTERM waits for the file in flight.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// ProfilerConfig says where vLLM writes traces and what to do with them.
type ProfilerConfig struct {
	Dirs           []string      `yaml:"dirs"`
	Recursive      bool          `yaml:"recursive"`
	SettleTime     time.Duration `yaml:"settle_time"`
	RescanInterval time.Duration `yaml:"rescan_interval"`
	FollowSymlinks bool          `yaml:"follow_symlinks"`
	MaxFileSize    ByteSize      `yaml:"max_file_size"`
	// AfterExport is keep, delete or move.
	AfterExport string `yaml:"after_export"`
	ExportedDir string `yaml:"exported_dir"`
	// OnFailure is keep or move.
	OnFailure  string   `yaml:"on_failure"`
	FailedDir  string   `yaml:"failed_dir"`
	DiskBudget ByteSize `yaml:"disk_budget"`
	// Notify uses inotify; false = rescans only (NFS).
	Notify bool `yaml:"notify"`
	// A file that keeps reading as truncated is failed after this many
	// reads AND this long without change (0 disables a condition).
	MaxTruncatedAttempts int           `yaml:"max_truncated_attempts"`
	MaxTruncatedAge      time.Duration `yaml:"max_truncated_age"`
	// StateRetention keeps a state record this long after its file was
	// last seen.
	StateRetention time.Duration `yaml:"state_retention"`
}

// ConvertConfig shapes the spans made from each trace.
type ConvertConfig struct {
	MaxSpansPerTrace int  `yaml:"max_spans_per_trace"`
	PythonSpans      bool `yaml:"python_spans"`
	// SpillDir holds the converter's scratch file (records and args, about
	// 225 B per event, unlinked at once), which keeps its memory flat:
	// empty = the system temp directory ($TMPDIR, else /tmp; in memory if
	// that cannot be written), "off" = in memory.
	SpillDir string `yaml:"spill_dir"`
}

// RequestsConfig says where request timelines come from.
type RequestsConfig struct {
	// Logs are vLLM log files (text or JSON) followed like tail -F.
	Logs []string `yaml:"logs"`
	// Format is auto, text or json.
	Format string `yaml:"format"`
	// StartAt is end (only new lines) or beginning.
	StartAt string `yaml:"start_at"`
	// TimeZone of the text log's timestamps (IANA name or "Local").
	TimeZone string `yaml:"time_zone"`
	// HoldTimeout bounds how long a finished trace waits for the logs to
	// catch up with its end before it is converted anyway.
	HoldTimeout time.Duration `yaml:"hold_timeout"`
	// Retention is how long request data is kept for linking.
	Retention time.Duration `yaml:"retention"`
	// MaxRequests bounds the request data kept in memory.
	MaxRequests int `yaml:"max_requests"`
}

// ReceiverConfig is the OTLP receiver for vLLM's own llm_request spans.
type ReceiverConfig struct {
	GRPC            string    `yaml:"grpc"`
	HTTP            string    `yaml:"http"`
	TLS             TLSConfig `yaml:"tls"`
	MaxMessageBytes ByteSize  `yaml:"max_message_bytes"`
	MaxPendingBytes ByteSize  `yaml:"max_pending_bytes"`
}

// TLSConfig holds certificate paths. Empty means plaintext.
type TLSConfig struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile turns on mutual TLS for a server.
	ClientCAFile string `yaml:"client_ca_file"`
}

// OutputConfig is where spans go: an OTLP endpoint or an OTLP/JSON file.
// Unset endpoint fields fall back to the standard OTEL_EXPORTER_OTLP_*
// environment variables, which the OTLP clients read themselves.
type OutputConfig struct {
	Endpoint    string            `yaml:"endpoint"`
	Protocol    string            `yaml:"protocol"`
	Insecure    bool              `yaml:"insecure"`
	Headers     map[string]string `yaml:"headers"`
	Compression string            `yaml:"compression"`
	TLS         TLSConfig         `yaml:"tls"`
	Timeout     time.Duration     `yaml:"timeout"`
	// File writes OTLP/JSON lines instead of sending ("-" = stdout).
	File            string      `yaml:"file"`
	MaxRequestBytes ByteSize    `yaml:"max_request_bytes"`
	MaxInFlight     int         `yaml:"max_in_flight"`
	Retry           RetryConfig `yaml:"retry"`
}

// RetryConfig is the exporter's backoff.
type RetryConfig struct {
	InitialInterval time.Duration `yaml:"initial_interval"`
	MaxInterval     time.Duration `yaml:"max_interval"`
	// MaxElapsedTime after which one file's export is given up and the file
	// is retried later from disk (0 = keep retrying).
	MaxElapsedTime time.Duration `yaml:"max_elapsed_time"`
}

// TelemetryConfig is the bridge's own metrics and health endpoint.
type TelemetryConfig struct {
	// Addr serves /metrics, /healthz and /readyz; empty turns it off.
	Addr string `yaml:"addr"`
}

// LogConfig shapes the bridge's own logs.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		ServiceName: "vllm",
		Profiler: ProfilerConfig{
			SettleTime:     2 * time.Second,
			RescanInterval: 10 * time.Second,
			AfterExport:    "keep",
			OnFailure:      "move",
			Notify:         true,

			MaxTruncatedAttempts: 3,
			MaxTruncatedAge:      10 * time.Minute,
			StateRetention:       72 * time.Hour,
		},
		StateFile: "vllm-otel-bridge-state.json",
		Convert:   ConvertConfig{MaxSpansPerTrace: 10000},
		Requests: RequestsConfig{
			Format:      "auto",
			StartAt:     "beginning",
			TimeZone:    "Local",
			HoldTimeout: 10 * time.Second,
			Retention:   time.Hour,
			MaxRequests: 100000,
		},
		Receiver: ReceiverConfig{
			MaxMessageBytes: 16 << 20,
			MaxPendingBytes: 32 << 20,
		},
		Output: OutputConfig{
			MaxRequestBytes: 3 << 20,
			MaxInFlight:     4,
			Retry: RetryConfig{
				InitialInterval: time.Second,
				MaxInterval:     30 * time.Second,
				MaxElapsedTime:  5 * time.Minute,
			},
		},
		Telemetry:       TelemetryConfig{Addr: "127.0.0.1:9464"},
		Log:             LogConfig{Level: "info", Format: "text"},
		ShutdownTimeout: 30 * time.Second,
	}
}

// LoadFile reads a YAML config over cfg. ${VAR} and ${VAR:-default} are
// expanded from getenv before parsing; unknown keys are an error naming the
// key.
func LoadFile(cfg *Config, path string, getenv func(string) string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return loadYAML(cfg, f, path, getenv)
}

func loadYAML(cfg *Config, r io.Reader, name string, getenv func(string) string) error {
	raw, err := io.ReadAll(io.LimitReader(r, 4<<20))
	if err != nil {
		return fmt.Errorf("config %s: %w", name, err)
	}
	expanded := expandEnv(string(raw), getenv)
	dec := yaml.NewDecoder(bytes.NewReader([]byte(expanded)))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", name, err)
	}
	return nil
}

// expandEnv replaces ${VAR} and ${VAR:-default}; a lone $ is kept.
func expandEnv(s string, getenv func(string) string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+1 < len(s) && s[i+1] == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end > 0 {
				expr := s[i+2 : i+end]
				name, def, hasDef := strings.Cut(expr, ":-")
				v := getenv(name)
				if v == "" && hasDef {
					v = def
				}
				b.WriteString(v)
				i += end
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Validate checks the configuration for the run command and names the bad key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.ServiceName == "" {
		bad("service_name", "must not be empty")
	}
	if len(c.Profiler.Dirs) == 0 {
		bad("profiler.dirs", "at least one profiler directory is required (--profiler-dir)")
	}
	if c.Profiler.SettleTime < 0 {
		bad("profiler.settle_time", "must not be negative")
	}
	if c.Profiler.RescanInterval <= 0 {
		bad("profiler.rescan_interval", "must be positive")
	}
	switch c.Profiler.AfterExport {
	case "keep", "delete", "move":
	default:
		bad("profiler.after_export", "%q is not keep, delete or move", c.Profiler.AfterExport)
	}
	switch c.Profiler.OnFailure {
	case "keep", "move":
	default:
		bad("profiler.on_failure", "%q is not keep or move", c.Profiler.OnFailure)
	}
	if c.StateFile == "" {
		bad("state_file", "must not be empty")
	}
	if c.Convert.MaxSpansPerTrace < 0 {
		bad("convert.max_spans_per_trace", "must be >= 0 (0 = no cap)")
	}
	switch c.Requests.Format {
	case "auto", "text", "json":
	default:
		bad("requests.format", "%q is not auto, text or json", c.Requests.Format)
	}
	switch c.Requests.StartAt {
	case "end", "beginning":
	default:
		bad("requests.start_at", "%q is not end or beginning", c.Requests.StartAt)
	}
	if _, err := loadLocation(c.Requests.TimeZone); err != nil {
		bad("requests.time_zone", "%v", err)
	}
	if c.Requests.HoldTimeout < 0 {
		bad("requests.hold_timeout", "must not be negative")
	}
	for key, addr := range map[string]string{"receiver.grpc": c.Receiver.GRPC, "receiver.http": c.Receiver.HTTP, "telemetry.addr": c.Telemetry.Addr} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(key, "%q is not host:port", addr)
		}
	}
	if err := c.Output.validate(); err != nil {
		errs = append(errs, err)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}

func (o *OutputConfig) validate() error {
	var errs []error
	switch o.Protocol {
	case "", "grpc", "http", "http/protobuf", "http/json":
	default:
		errs = append(errs, fmt.Errorf("output.protocol: %q is not grpc, http (http/protobuf) or http/json", o.Protocol))
	}
	switch o.Compression {
	case "", "gzip", "none":
	default:
		errs = append(errs, fmt.Errorf("output.compression: %q is not gzip or none", o.Compression))
	}
	if o.MaxRequestBytes < 64<<10 {
		errs = append(errs, fmt.Errorf("output.max_request_bytes: %s is below the 64KiB minimum", o.MaxRequestBytes))
	}
	if o.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("output.max_in_flight: must be at least 1"))
	}
	if (o.TLS.CertFile == "") != (o.TLS.KeyFile == "") {
		errs = append(errs, fmt.Errorf("output.tls: cert_file and key_file go together"))
	}
	return errors.Join(errs...)
}

// HasEndpoint reports whether spans go to an OTLP endpoint: one is
// configured here or through the standard OTEL_EXPORTER_OTLP_* variables.
func (o *OutputConfig) HasEndpoint(getenv func(string) string) bool {
	return o.Endpoint != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return time.Local, nil
	}
	return time.LoadLocation(name)
}
