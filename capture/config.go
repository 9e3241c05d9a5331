package capture

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultStateName is the capture state file's name when Config.StateFile
// is empty; the daemon puts it in the first profiler directory, next to the
// watcher's state file.
const DefaultStateName = ".vllm-otel-bridge-capture.json"

// Config is the profiling: section of the run config. The zero VLLMURL
// turns the whole feature off (see Enabled). Start from DefaultConfig.
type Config struct {
	// VLLMURL is vLLM's HTTP server, e.g. http://127.0.0.1:8000.
	VLLMURL string `yaml:"vllm_url" json:"vllm_url"`
	// APIKeyFile holds vLLM's --api-key, sent as "Authorization: Bearer".
	// Empty: the VLLM_API_KEY environment variable, if set. Read when
	// needed (a rotated Secret takes effect), never logged.
	APIKeyFile string `yaml:"api_key_file" json:"api_key_file"`
	// MetricsURL is vLLM's Prometheus endpoint; empty means VLLMURL/metrics.
	MetricsURL string `yaml:"metrics_url" json:"metrics_url"`

	// Every starts a scheduled capture this often (0: no schedule). The
	// first one starts Every after Run begins.
	Every time.Duration `yaml:"every" json:"every"`
	// Duration is how long a scheduled or triggered capture runs before
	// /stop_profile; also the default of an on-demand capture.
	Duration time.Duration `yaml:"duration" json:"duration"`
	// Steps > 0 means vLLM's --profiler-config has max_iterations set to
	// this number and stops recording by itself: the bridge sends
	// /start_profile, waits until the trace files appear in the profiler
	// directory (or MaxDuration passes), then sends /stop_profile, which
	// vLLM needs before it accepts the next start. Duration is then
	// ignored for scheduled and triggered captures.
	Steps int `yaml:"steps" json:"steps"`
	// MaxDuration is the hard limit of any capture, on-demand included.
	MaxDuration time.Duration `yaml:"max_duration" json:"max_duration"`
	// Cooldown is the least time between the end of one capture and the
	// start of the next.
	Cooldown time.Duration `yaml:"cooldown" json:"cooldown"`
	// MaxPerHour bounds the captures started in any 60 minutes.
	MaxPerHour int `yaml:"max_per_hour" json:"max_per_hour"`
	// ControlTokenFile holds the bearer token of POST /v1/profile and GET
	// /v1/profile/{id}. Empty: only requests over a loopback address are
	// accepted.
	ControlTokenFile string `yaml:"control_token_file" json:"control_token_file"`
	// StateFile records the capture in flight and the recent ones. Empty:
	// DefaultStateName in the first profiler directory (set by the daemon).
	StateFile string `yaml:"state_file" json:"state_file"`

	// PollInterval is how often vLLM's /metrics is scraped for triggers,
	// and the profiler directory checked in Steps mode.
	PollInterval time.Duration `yaml:"poll_interval" json:"poll_interval"`
	// FileGrace is how long after /stop_profile returns new trace files are
	// still attributed to the capture.
	FileGrace time.Duration `yaml:"file_grace" json:"file_grace"`
	// StartTimeout bounds one /start_profile request.
	StartTimeout time.Duration `yaml:"start_timeout" json:"start_timeout"`
	// StopTimeout bounds one /stop_profile request. vLLM answers it only
	// once every rank has written its trace, which takes seconds to
	// minutes (vLLM docs: ~10 min for 100 Llama-70B requests).
	StopTimeout time.Duration `yaml:"stop_timeout" json:"stop_timeout"`
	// StopAttempts is how many times a failed stop is tried before the
	// capture counts as stop_failed; the stop is tried again before the
	// next start either way.
	StopAttempts int `yaml:"stop_attempts" json:"stop_attempts"`
	// StopBackoff is the wait before the second stop attempt, doubled per
	// attempt up to 30s.
	StopBackoff time.Duration `yaml:"stop_backoff" json:"stop_backoff"`

	// Triggers start a capture when a latency quantile is too high.
	Triggers []Trigger `yaml:"triggers" json:"triggers"`
}

// Trigger fires when Quantile of the histogram Metric, over the bucket
// deltas of the last Window, is above Above.
type Trigger struct {
	// Name is the trigger label of captures_total and the start of the
	// vllm.profile.trigger attribute. Default: p<q>_<metric without vllm:>.
	Name string `yaml:"name" json:"name"`
	// Metric is a histogram family in vLLM's /metrics, for example
	// vllm:time_to_first_token_seconds or vllm:e2e_request_latency_seconds.
	Metric string `yaml:"metric" json:"metric"`
	// Labels keeps only the series with these label values (e.g.
	// model_name); the rest are summed.
	Labels map[string]string `yaml:"labels" json:"labels"`
	// Quantile in (0, 1), e.g. 0.99.
	Quantile float64 `yaml:"quantile" json:"quantile"`
	// Above is the threshold in the metric's unit (seconds for vLLM's).
	Above float64 `yaml:"above" json:"above"`
	// Window is the sliding window of bucket deltas.
	Window time.Duration `yaml:"window" json:"window"`
	// MinCount is the least number of observations in the window before
	// the quantile is trusted (default 20).
	MinCount float64 `yaml:"min_count" json:"min_count"`
	// Duration overrides Config.Duration for captures this trigger starts.
	Duration time.Duration `yaml:"duration" json:"duration"`
}

// DefaultConfig returns the defaults: off (no VLLMURL), 30s captures of at
// most 5 minutes, a 10 minute cool-down and at most 4 captures per hour.
func DefaultConfig() Config {
	return Config{
		Duration:     30 * time.Second,
		MaxDuration:  5 * time.Minute,
		Cooldown:     10 * time.Minute,
		MaxPerHour:   4,
		PollInterval: 15 * time.Second,
		FileGrace:    30 * time.Second,
		StartTimeout: 30 * time.Second,
		StopTimeout:  15 * time.Minute,
		StopAttempts: 4,
		StopBackoff:  2 * time.Second,
	}
}

// Enabled reports whether profiling control is configured at all.
func (c Config) Enabled() bool { return c.VLLMURL != "" }

// Validate checks c and fills trigger names; errors name the yaml key.
func (c *Config) Validate() error {
	if !c.Enabled() {
		var set []string
		if c.Every > 0 {
			set = append(set, "every")
		}
		if len(c.Triggers) > 0 {
			set = append(set, "triggers")
		}
		if c.ControlTokenFile != "" {
			set = append(set, "control_token_file")
		}
		if len(set) > 0 {
			return fmt.Errorf("profiling.vllm_url (--vllm-url) is required when profiling.%s is set", strings.Join(set, ", profiling."))
		}
		return nil
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for key, raw := range map[string]string{"vllm_url": c.VLLMURL, "metrics_url": c.MetricsURL} {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("profiling.%s: %q is not an http(s) URL with a host", key, raw)
		}
	}
	if c.MaxDuration <= 0 {
		bad("profiling.max_duration must be > 0 (the hard limit of every capture), got %s", c.MaxDuration)
	}
	if c.Duration < 0 {
		bad("profiling.duration must be >= 0, got %s", c.Duration)
	}
	if c.Steps < 0 {
		bad("profiling.steps must be >= 0, got %d", c.Steps)
	}
	if c.Steps == 0 && c.Duration == 0 && (c.Every > 0 || len(c.Triggers) > 0) {
		bad("profiling.duration (--profile-duration) or profiling.steps is required with a schedule or triggers")
	}
	if c.MaxDuration > 0 && c.Duration > c.MaxDuration {
		bad("profiling.duration (%s) exceeds profiling.max_duration (%s)", c.Duration, c.MaxDuration)
	}
	if c.Every < 0 {
		bad("profiling.every must be >= 0, got %s", c.Every)
	}
	if c.Every > 0 && c.Steps == 0 && c.Every <= c.Duration {
		bad("profiling.every (%s) must be longer than profiling.duration (%s)", c.Every, c.Duration)
	}
	if c.Cooldown < 0 {
		bad("profiling.cooldown must be >= 0, got %s", c.Cooldown)
	}
	if c.MaxPerHour <= 0 {
		bad("profiling.max_per_hour must be > 0, got %d", c.MaxPerHour)
	}
	if c.PollInterval <= 0 {
		bad("profiling.poll_interval must be > 0, got %s", c.PollInterval)
	}
	if c.FileGrace < 0 {
		bad("profiling.file_grace must be >= 0, got %s", c.FileGrace)
	}
	if c.StartTimeout <= 0 || c.StopTimeout <= 0 {
		bad("profiling.start_timeout and profiling.stop_timeout must be > 0, got %s and %s", c.StartTimeout, c.StopTimeout)
	}
	if c.StopAttempts < 1 {
		bad("profiling.stop_attempts must be >= 1, got %d", c.StopAttempts)
	}
	if c.StopBackoff <= 0 {
		bad("profiling.stop_backoff must be > 0, got %s", c.StopBackoff)
	}
	seen := map[string]bool{}
	for i := range c.Triggers {
		t := &c.Triggers[i]
		key := fmt.Sprintf("profiling.triggers[%d]", i)
		if t.Metric == "" {
			bad("%s.metric is required (e.g. vllm:time_to_first_token_seconds)", key)
		}
		if !(t.Quantile > 0 && t.Quantile < 1) {
			bad("%s.quantile must be in (0, 1), got %v", key, t.Quantile)
		}
		if !(t.Above > 0) || math.IsInf(t.Above, 0) {
			bad("%s.above must be a positive threshold, got %v", key, t.Above)
		}
		if t.Window < 2*c.PollInterval {
			bad("%s.window (%s) must be at least 2 × profiling.poll_interval (%s)", key, t.Window, c.PollInterval)
		}
		if t.MinCount < 0 {
			bad("%s.min_count must be >= 0, got %v", key, t.MinCount)
		}
		if t.MinCount == 0 {
			t.MinCount = 20
		}
		if t.Duration < 0 || (c.MaxDuration > 0 && t.Duration > c.MaxDuration) {
			bad("%s.duration (%s) must be within 0..profiling.max_duration (%s)", key, t.Duration, c.MaxDuration)
		}
		if t.Name == "" && t.Metric != "" {
			t.Name = "p" + strings.ReplaceAll(pct(t.Quantile), ".", "_") + "_" + strings.TrimPrefix(t.Metric, "vllm:")
		}
		if t.Name == "schedule" || t.Name == "on_demand" {
			bad("%s.name %q is reserved", key, t.Name)
		}
		if seen[t.Name] {
			bad("%s.name %q is used twice", key, t.Name)
		}
		seen[t.Name] = true
	}
	return errors.Join(errs...)
}

// pct writes quantile q as a percentile: 0.99 → "99", 0.995 → "99.5".
func pct(q float64) string {
	return strconv.FormatFloat(math.Round(q*100*1e6)/1e6, 'f', -1, 64)
}

// metricsURL is where /metrics is scraped.
func (c Config) metricsURL() string {
	if c.MetricsURL != "" {
		return c.MetricsURL
	}
	return strings.TrimRight(c.VLLMURL, "/") + "/metrics"
}

// RegisterFlags binds the contract flags of the profiling section to c;
// their defaults are c's current values (defaults + file), like every other
// flag of run. The rest of the section is set in the config file.
func RegisterFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.VLLMURL, "vllm-url", c.VLLMURL, "vLLM's HTTP server for /start_profile, /stop_profile and /metrics; empty = the bridge never starts the profiler (config: profiling.vllm_url)")
	fs.StringVar(&c.APIKeyFile, "vllm-api-key-file", c.APIKeyFile, "file holding vLLM's --api-key, sent as a bearer token; default $VLLM_API_KEY; never logged (config: profiling.api_key_file)")
	fs.DurationVar(&c.Every, "profile-every", c.Every, "start a profiler capture this often; 0 = no schedule (config: profiling.every)")
	fs.DurationVar(&c.Duration, "profile-duration", c.Duration, "length of a scheduled or triggered capture (config: profiling.duration)")
	fs.IntVar(&c.Steps, "profile-steps", c.Steps, "vLLM's --profiler-config max_iterations: vLLM stops the capture itself after this many steps (config: profiling.steps)")
	fs.StringVar(&c.ControlTokenFile, "control-token-file", c.ControlTokenFile, "bearer token file of POST /v1/profile; empty = loopback only (config: profiling.control_token_file)")
}

// APIKeyEnv is the environment variable read when no key file is set,
// the same one vLLM reads for its --api-key.
const APIKeyEnv = "VLLM_API_KEY"

// secret reads a credential when it is needed: from file, or else from
// the environment. Its String and GoString never show the value.
type secret struct {
	file   string
	env    string
	getenv func(string) string
}

func (s secret) String() string   { return "[redacted]" }
func (s secret) GoString() string { return "[redacted]" }

// value returns the credential ("" when none is configured).
func (s secret) value() (string, error) {
	if s.file != "" {
		b, err := os.ReadFile(s.file)
		if err != nil {
			return "", fmt.Errorf("read credential file: %w", err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("credential file %s is empty", s.file)
		}
		return v, nil
	}
	if s.env != "" && s.getenv != nil {
		return strings.TrimSpace(s.getenv(s.env)), nil
	}
	return "", nil
}
