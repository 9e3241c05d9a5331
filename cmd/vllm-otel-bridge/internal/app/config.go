package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/capture"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/exporter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/insights"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/bytesize"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/configerr"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/logfiles"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/receiver"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/watcher"
)

// Config is the daemon's whole configuration: the YAML file's shape. Each
// component owns its section (keys, defaults, Validate): profiler is
// watcher.Config, receiver is receiver.Config, output is the exporter's
// SinkConfig and Config, requests embeds linker.TimelineOptions. Every key
// can also be set by a flag and an environment variable (see flags.go);
// precedence is defaults < file < environment < flags.
type Config struct {
	ServiceName        string            `yaml:"service_name"`
	ResourceAttributes map[string]string `yaml:"resource_attributes"`

	Profiler watcher.Config `yaml:"profiler"`
	// StateFile records which trace files were fully exported; it becomes
	// the watcher's StatePath (a top-level key for historical reasons).
	StateFile string          `yaml:"state_file"`
	Convert   ConvertConfig   `yaml:"convert"`
	Requests  RequestsConfig  `yaml:"requests"`
	Receiver  receiver.Config `yaml:"receiver"`
	Output    OutputConfig    `yaml:"output"`
	Telemetry TelemetryConfig `yaml:"telemetry"`
	Log       LogConfig       `yaml:"log"`
	// Profiling is the bridge starting and stopping vLLM's profiler itself
	// (schedule, on demand, latency triggers); off without a vllm_url.
	Profiling capture.Config `yaml:"profiling"`
	// ShutdownTimeout bounds how long SIGTERM waits for the file in flight.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// ConvertConfig shapes the spans made from each trace.
type ConvertConfig struct {
	MaxSpansPerTrace int  `yaml:"max_spans_per_trace"`
	PythonSpans      bool `yaml:"python_spans"`
	// Insights puts the step verdicts (package insights) on every step
	// root and the request verdicts on request spans; false leaves them out.
	Insights bool `yaml:"insights"`
	// SpillDir holds the converter's scratch file (records and args, about
	// 225 B per event, unlinked at once), which keeps its memory flat:
	// empty = the system temp directory ($TMPDIR, else /tmp; in memory if
	// that cannot be written), "off" = in memory.
	SpillDir string `yaml:"spill_dir"`
	// Thresholds are the step bottleneck rule's and the idle split's
	// numbers (package insights; its README has the rule).
	Thresholds insights.Thresholds `yaml:"thresholds"`
}

// Validate checks the convert section (keys as convert.KEY).
func (c *ConvertConfig) Validate() error {
	if c.MaxSpansPerTrace < 0 {
		return errors.New("convert.max_spans_per_trace: must be >= 0 (0 = no cap)")
	}
	if err := c.Thresholds.Validate(); err != nil {
		return underKey("convert.thresholds", err)
	}
	return nil
}

// RequestsConfig says where request timelines come from; its bounds
// (retention, max_requests) are the linker's TimelineOptions.
type RequestsConfig struct {
	// Logs are vLLM log files (text or JSON, plain or in a container
	// runtime's CRI or Docker json-file wrapper), globs or folders,
	// followed like tail -F (package linker/logfiles).
	Logs []string `yaml:"logs"`
	// TaskPattern is a regular expression over a log's path with a named
	// group "task" (vllm.request.task); empty: a folder's files get their
	// name's stem, others none; "none": no tasks.
	TaskPattern string `yaml:"task_pattern"`
	// MaxFollowed bounds the log files held open at once (the rest wait,
	// counted in log_files_queued); IdleClose closes a file that stopped
	// growing.
	MaxFollowed int           `yaml:"max_followed"`
	IdleClose   time.Duration `yaml:"idle_close"`
	// Format is auto, text or json.
	Format string `yaml:"format"`
	// StartAt is end (only new lines) or beginning.
	StartAt string `yaml:"start_at"`
	// TimeZone of the text log's timestamps (IANA name or "Local").
	TimeZone string `yaml:"time_zone"`
	// HoldTimeout bounds how long a finished trace waits for the logs to
	// catch up with its end before it is converted anyway.
	HoldTimeout time.Duration `yaml:"hold_timeout"`

	linker.TimelineOptions `yaml:",inline"`
}

// OutputConfig is where spans go (an OTLP endpoint or an OTLP/JSON file:
// the exporter's SinkConfig) and how they are cut and retried (its
// Config). Unset endpoint fields fall back to the standard
// OTEL_EXPORTER_OTLP_* environment variables, which the OTLP clients read
// themselves.
type OutputConfig struct {
	Sink   exporter.SinkConfig `yaml:",inline"`
	Policy exporter.Config     `yaml:",inline"`
}

// minRequestBytes is the daemon's floor under output.max_request_bytes
// (the exporter accepts smaller, for tests): below it most requests would
// carry a span or two.
const minRequestBytes = 64 << 10

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

// DefaultConfig returns the configuration used when nothing is set: each
// component's defaults, and where the daemon wants otherwise (named
// below) its own.
func DefaultConfig() Config {
	cfg := Config{
		ServiceName: "vllm",
		Profiler:    watcher.DefaultConfig(),
		StateFile:   "vllm-otel-bridge-state.json",
		Convert:     ConvertConfig{MaxSpansPerTrace: 10000, Insights: true, Thresholds: insights.DefaultThresholds()},
		Requests: RequestsConfig{
			Format:      "auto",
			StartAt:     "beginning",
			TimeZone:    "Local",
			HoldTimeout: 10 * time.Second,
			MaxFollowed: logfiles.DefaultMaxFollowed,
			IdleClose:   logfiles.DefaultIdleClose,
			// Longer than the linker's 15 minutes: a live daemon links
			// traces that may wait behind a backlog.
			TimelineOptions: linker.TimelineOptions{Retention: time.Hour, MaxRequests: 100000},
		},
		Receiver:        receiver.DefaultConfig(),
		Output:          OutputConfig{Policy: exporter.DefaultConfig()},
		Telemetry:       TelemetryConfig{Addr: "127.0.0.1:9464"},
		Log:             LogConfig{Level: "info", Format: "text"},
		Profiling:       capture.DefaultConfig(),
		ShutdownTimeout: 30 * time.Second,
	}
	// The receiver listens only when asked to (--receiver-grpc/-http).
	cfg.Receiver.GRPCAddr, cfg.Receiver.HTTPAddr = "", ""
	// A file whose export keeps failing goes back to disk after 5 minutes
	// (the library retries for ever), and the first retry waits a second.
	cfg.Output.Policy.Retry.InitialInterval = time.Second
	cfg.Output.Policy.Retry.MaxElapsedTime = 5 * time.Minute
	return cfg
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

// Validate checks the configuration for the run command and names the bad
// key: each component's Validate for its section, and the daemon's own keys.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	// oneOf: v must be one of allowed ("%q is not a, b or c").
	oneOf := func(key, v string, allowed ...string) {
		if !slices.Contains(allowed, v) {
			last := len(allowed) - 1
			bad(key, "%q is not %s or %s", v, strings.Join(allowed[:last], ", "), allowed[last])
		}
	}
	if c.ServiceName == "" {
		bad("service_name", "must not be empty")
	}
	if len(c.Profiler.Dirs) == 0 {
		bad("profiler.dirs", "at least one profiler directory is required (--profiler-dir)")
	} else if err := c.Profiler.Validate(); err != nil {
		errs = append(errs, underKey("profiler", err))
	}
	if c.StateFile == "" {
		bad("state_file", "must not be empty")
	}
	if err := c.Profiling.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Convert.Validate(); err != nil {
		errs = append(errs, err)
	}
	oneOf("requests.format", c.Requests.Format, "auto", "text", "json")
	oneOf("requests.start_at", c.Requests.StartAt, "end", "beginning")
	if _, err := loadLocation(c.Requests.TimeZone); err != nil {
		bad("requests.time_zone", "%v", err)
	}
	if c.Requests.HoldTimeout < 0 {
		bad("requests.hold_timeout", "must not be negative")
	}
	if _, err := logfiles.CompileTaskPattern(c.Requests.TaskPattern); err != nil {
		bad("requests.task_pattern", "%v", err)
	}
	if c.Requests.MaxFollowed < 1 {
		bad("requests.max_followed", "must be at least 1")
	}
	if c.Requests.IdleClose <= 0 {
		bad("requests.idle_close", "must be positive")
	}
	if err := c.Receiver.Validate(); err != nil {
		errs = append(errs, underKey("receiver", err))
	}
	if c.Telemetry.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Telemetry.Addr); err != nil {
			bad("telemetry.addr", "%q is not host:port", c.Telemetry.Addr)
		}
	}
	if err := c.Output.Validate(); err != nil {
		errs = append(errs, err)
	}
	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf("log.format", c.Log.Format, "text", "json")
	return errors.Join(errs...)
}

// Validate checks the output section: the sink's and the exporter's own
// Validate, and the daemon's floor under max_request_bytes.
func (o *OutputConfig) Validate() error {
	var errs []error
	if err := o.Sink.Validate(); err != nil {
		errs = append(errs, underKey("output", err))
	}
	if o.Policy.MaxRequestBytes < minRequestBytes {
		errs = append(errs, fmt.Errorf("output.max_request_bytes: %s is below the %s minimum", o.Policy.MaxRequestBytes, bytesize.ByteSize(minRequestBytes)))
	} else if err := o.Policy.Validate(); err != nil {
		errs = append(errs, underKey("output", err))
	}
	return errors.Join(errs...)
}

// underKey names a component's bad key under its section of the file:
// "profiler.settle_time: must not be negative".
func underKey(section string, err error) error {
	var ce *configerr.Error
	if errors.As(err, &ce) {
		return fmt.Errorf("%s.%s: %s", section, ce.Key, ce.Reason)
	}
	return fmt.Errorf("%s: %w", section, err)
}

// HasEndpoint reports whether spans go to an OTLP endpoint: one is
// configured here or through the standard OTEL_EXPORTER_OTLP_* variables.
func (o *OutputConfig) HasEndpoint(getenv func(string) string) bool {
	return o.Sink.Transport.Endpoint != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return time.Local, nil
	}
	return time.LoadLocation(name)
}
