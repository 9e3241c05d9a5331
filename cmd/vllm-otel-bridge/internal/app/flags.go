package app

import (
	"github.com/vllm-otel-bridge/vllm-otel-bridge/capture"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/insights"

	"flag"
	"fmt"
	"sort"
	"strings"
)

// EnvPrefix prefixes the environment variable of every flag: --profiler-dir
// is VLLM_OTEL_BRIDGE_PROFILER_DIR.
const EnvPrefix = "VLLM_OTEL_BRIDGE_"

// EnvName returns the environment variable that sets flag name.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// bindRunFlags binds every configuration key of the run command to a flag.
// The flags' defaults are cfg's current values (defaults + file).
func bindRunFlags(fs *flag.FlagSet, c *Config) {
	capture.RegisterFlags(fs, &c.Profiling)
	fs.StringVar(&c.ServiceName, "service-name", c.ServiceName, "service.name of the exported spans (config: service_name)")
	fs.Var((*mapValue)(&c.ResourceAttributes), "resource-attributes", "extra resource attributes, k=v,k2=v2 (config: resource_attributes)")
	fs.Var(newList(&c.Profiler.Dirs), "profiler-dir", "vLLM torch_profiler_dir to watch; repeatable or comma-separated (config: profiler.dirs)")
	fs.BoolVar(&c.Profiler.Recursive, "recursive", c.Profiler.Recursive, "watch subdirectories too (config: profiler.recursive)")
	fs.DurationVar(&c.Profiler.SettleTime, "settle-time", c.Profiler.SettleTime, "a file must keep its size this long before it is read (config: profiler.settle_time)")
	fs.DurationVar(&c.Profiler.RescanInterval, "rescan-interval", c.Profiler.RescanInterval, "full directory rescan period; fsnotify is only a hint (config: profiler.rescan_interval)")
	fs.BoolVar(&c.Profiler.FollowSymlinks, "follow-symlinks", c.Profiler.FollowSymlinks, "follow symlinks that point outside the profiler dir (config: profiler.follow_symlinks)")
	fs.Var(&c.Profiler.MaxFileSize, "max-file-size", "fail trace files larger than this; 0 = no limit (config: profiler.max_file_size)")
	fs.StringVar(&c.Profiler.AfterExport, "after-export", c.Profiler.AfterExport, "keep, delete or move a file once exported (config: profiler.after_export)")
	fs.StringVar(&c.Profiler.ExportedDir, "exported-dir", c.Profiler.ExportedDir, "where after-export=move puts files; default <dir>/exported (config: profiler.exported_dir)")
	fs.StringVar(&c.Profiler.OnFailure, "on-failure", c.Profiler.OnFailure, "keep or move a file that cannot be converted (config: profiler.on_failure)")
	fs.StringVar(&c.Profiler.FailedDir, "failed-dir", c.Profiler.FailedDir, "where on-failure=move puts files; default <dir>/failed (config: profiler.failed_dir)")
	fs.Var(&c.Profiler.DiskBudgetBytes, "disk-budget", "delete the oldest exported trace files above this size; 0 = never (config: profiler.disk_budget)")
	fs.BoolVar(&c.Profiler.Notify, "notify", c.Profiler.Notify, "use inotify as a hint; false = rescans only, for NFS (config: profiler.notify)")
	fs.IntVar(&c.Profiler.MaxTruncatedAttempts, "max-truncated-attempts", c.Profiler.MaxTruncatedAttempts, "truncated reads before a cut file may be failed; 0 disables (config: profiler.max_truncated_attempts)")
	fs.DurationVar(&c.Profiler.MaxTruncatedAge, "max-truncated-age", c.Profiler.MaxTruncatedAge, "how long a cut file must stay unchanged before it is failed; 0 disables (config: profiler.max_truncated_age)")
	fs.DurationVar(&c.Profiler.StateRetention, "state-retention", c.Profiler.StateRetention, "keep a state record this long after its file was last seen (config: profiler.state_retention)")
	fs.StringVar(&c.StateFile, "state-file", c.StateFile, "file recording exported traces (config: state_file)")
	bindConvertFlags(fs, &c.Convert)
	fs.Var(newList(&c.Requests.Logs), "vllm-log", "vLLM log to follow: a file, glob or folder (text or JSON, plain, CRI or Docker json-file; rotated and .gz files read once); repeatable (config: requests.logs)")
	fs.StringVar(&c.Requests.TaskPattern, "vllm-log-task-pattern", c.Requests.TaskPattern, "regexp over a log's path with a (?P<task>…) group, the request spans' vllm.request.task; empty = a folder's files by name, none = off (config: requests.task_pattern)")
	fs.IntVar(&c.Requests.MaxFollowed, "vllm-log-max-followed", c.Requests.MaxFollowed, "log files held open at once; more wait in a queue (config: requests.max_followed)")
	fs.DurationVar(&c.Requests.IdleClose, "vllm-log-idle-close", c.Requests.IdleClose, "close a log file that has not grown for this long (config: requests.idle_close)")
	fs.StringVar(&c.Requests.Format, "vllm-log-format", c.Requests.Format, "auto, text or json (config: requests.format)")
	fs.StringVar(&c.Requests.StartAt, "vllm-log-start", c.Requests.StartAt, "beginning (read the existing log first, so requests already in flight are known) or end (config: requests.start_at)")
	fs.StringVar(&c.Requests.TimeZone, "vllm-log-timezone", c.Requests.TimeZone, "time zone of text-log timestamps (config: requests.time_zone)")
	fs.DurationVar(&c.Requests.HoldTimeout, "hold-timeout", c.Requests.HoldTimeout, "how long a finished trace waits for request data (config: requests.hold_timeout)")
	fs.DurationVar(&c.Requests.Retention, "request-retention", c.Requests.Retention, "how long request data is kept for linking (config: requests.retention)")
	fs.IntVar(&c.Requests.MaxRequests, "max-requests", c.Requests.MaxRequests, "bound on requests kept in memory (config: requests.max_requests)")
	fs.StringVar(&c.Receiver.GRPCAddr, "receiver-grpc", c.Receiver.GRPCAddr, "OTLP/gRPC receiver address for vLLM's spans, e.g. 127.0.0.1:4317; empty = off (config: receiver.grpc)")
	fs.StringVar(&c.Receiver.HTTPAddr, "receiver-http", c.Receiver.HTTPAddr, "OTLP/HTTP receiver address, e.g. 127.0.0.1:4318; empty = off (config: receiver.http)")
	fs.StringVar(&c.Receiver.TLS.CertFile, "receiver-tls-cert", c.Receiver.TLS.CertFile, "receiver TLS certificate (config: receiver.tls.cert_file)")
	fs.StringVar(&c.Receiver.TLS.KeyFile, "receiver-tls-key", c.Receiver.TLS.KeyFile, "receiver TLS key (config: receiver.tls.key_file)")
	fs.StringVar(&c.Receiver.TLS.ClientCAFile, "receiver-tls-client-ca", c.Receiver.TLS.ClientCAFile, "require client certificates signed by this CA (config: receiver.tls.client_ca_file)")
	fs.Var(&c.Receiver.MaxRecvMessageBytes, "receiver-max-message-bytes", "largest OTLP request accepted (config: receiver.max_message_bytes)")
	fs.Var(&c.Receiver.MaxPendingBytes, "receiver-max-pending-bytes", "received bytes not yet acknowledged downstream before senders are told to retry (config: receiver.max_pending_bytes)")
	bindOutputFlags(fs, &c.Output)
	fs.StringVar(&c.Telemetry.Addr, "metrics-addr", c.Telemetry.Addr, "address of /metrics /healthz /readyz; empty = off (config: telemetry.addr)")
	fs.StringVar(&c.Log.Level, "log-level", c.Log.Level, "debug, info, warn or error (config: log.level)")
	fs.StringVar(&c.Log.Format, "log-format", c.Log.Format, "text or json (config: log.format)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long SIGTERM waits for the file in flight (config: shutdown_timeout)")
}

func bindConvertFlags(fs *flag.FlagSet, c *ConvertConfig) {
	fs.IntVar(&c.MaxSpansPerTrace, "max-spans-per-trace", c.MaxSpansPerTrace, "cap on spans per trace, keeping the longest; 0 = no cap (config: convert.max_spans_per_trace)")
	fs.BoolVar(&c.PythonSpans, "python-spans", c.PythonSpans, "emit Python frames as spans instead of op attributes (config: convert.python_spans)")
	fs.BoolVar(&c.Insights, "insights", c.Insights, "step verdicts on every step root (GPU time by kernel class, idle split, copies, launch delays, bottleneck, …); false leaves them out, for comparison (config: convert.insights)")
	fs.StringVar(&c.SpillDir, "spill-dir", c.SpillDir, "directory for the converter's scratch file (records and args out of memory, about 225 B per event); empty = $TMPDIR or /tmp, off = in memory (config: convert.spill_dir)")
	bindThresholdFlags(fs, &c.Thresholds)
}

// bindThresholdFlags binds the step bottleneck rule's thresholds (run,
// convert and inspect): --threshold-KEY for each convert.thresholds.KEY.
func bindThresholdFlags(fs *flag.FlagSet, th *insights.Thresholds) {
	for _, f := range []struct {
		key   string
		ns    *int64   // a time in ns, or
		ratio *float64 // a ratio or share
		usage string
	}{
		{"kernel_wait_ns", &th.KernelWaitNs, nil, "GPU idle gaps shorter than this, before work already launched, are kernel wait"},
		{"min_busy_ratio", nil, &th.MinBusyRatio, "a step whose GPU busy / wall time is below this is starved: launch_bound or host"},
		{"host_gap_share", nil, &th.HostGapShare, "a starved step whose longest idle gap is at least this share of its idle time is host"},
		{"short_op_ns", &th.ShortOpNs, nil, "a starved step whose GPU ops average less than this is launch_bound, else host"},
		{"communication_share", nil, &th.CommunicationShare, "a busy step with at least this share of GPU time in communication is communication"},
		{"memcpy_share", nil, &th.MemcpyShare, "a busy step with at least this share of GPU time in memory copies is memory_copy"},
	} {
		name := "threshold-" + strings.ReplaceAll(f.key, "_", "-")
		usage := f.usage + " (config: convert.thresholds." + f.key + ")"
		if f.ns != nil {
			fs.Int64Var(f.ns, name, *f.ns, usage)
		} else {
			fs.Float64Var(f.ratio, name, *f.ratio, usage)
		}
	}
}

func bindOutputFlags(fs *flag.FlagSet, out *OutputConfig) {
	o, p := &out.Sink.Transport, &out.Policy
	fs.StringVar(&o.Endpoint, "endpoint", o.Endpoint, "OTLP endpoint (grpc: host:port or URL; http: URL); default from OTEL_EXPORTER_OTLP_* (config: output.endpoint)")
	fs.StringVar(&out.Sink.Protocol, "protocol", out.Sink.Protocol, "grpc or http (config: output.protocol)")
	fs.BoolVar(&o.Insecure, "insecure", o.Insecure, "plaintext connection to the endpoint (config: output.insecure)")
	fs.Var((*mapValue)(&o.Headers), "headers", "export headers k=v,k2=v2, e.g. authorization=Bearer… (never logged) (config: output.headers)")
	fs.StringVar(&o.Compression, "compression", o.Compression, "gzip or none (config: output.compression)")
	fs.StringVar(&o.TLS.CAFile, "tls-ca", o.TLS.CAFile, "CA to verify the endpoint (config: output.tls.ca_file)")
	fs.StringVar(&o.TLS.CertFile, "tls-cert", o.TLS.CertFile, "client certificate for mTLS (config: output.tls.cert_file)")
	fs.StringVar(&o.TLS.KeyFile, "tls-key", o.TLS.KeyFile, "client key for mTLS (config: output.tls.key_file)")
	fs.DurationVar(&o.Timeout, "export-timeout", o.Timeout, "timeout of one export request; 0 = client default (config: output.timeout)")
	fs.StringVar(&out.Sink.Path, "output-file", out.Sink.Path, "write OTLP/JSON lines (a name ending in .pb: length-delimited OTLP protobuf) to this file instead of an endpoint; - = stdout (config: output.file)")
	fs.Var(&p.MaxRequestBytes, "max-request-bytes", "largest encoded export request (config: output.max_request_bytes)")
	fs.IntVar(&p.MaxInFlight, "max-in-flight", p.MaxInFlight, "concurrent export requests (config: output.max_in_flight)")
	fs.DurationVar(&p.Retry.InitialInterval, "retry-initial-interval", p.Retry.InitialInterval, "first retry delay (config: output.retry.initial_interval)")
	fs.DurationVar(&p.Retry.MaxInterval, "retry-max-interval", p.Retry.MaxInterval, "longest retry delay (config: output.retry.max_interval)")
	fs.DurationVar(&p.Retry.MaxElapsedTime, "retry-max-elapsed", p.Retry.MaxElapsedTime, "give up one file's export after this and retry the file later; 0 = never (config: output.retry.max_elapsed_time)")
}

// parseWithEnv parses args, then sets every flag that was not given on the
// command line but has its environment variable set: flags win over the
// environment, which wins over the file and the defaults.
func parseWithEnv(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	onCLI := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCLI[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || onCLI[f.Name] {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("environment %s: %w", EnvName(f.Name), e)
			}
		}
	})
	return err
}

// listValue is a repeatable, comma-splitting string list flag. The first Set
// replaces the value from the file; later ones append.
type listValue struct {
	p   *[]string
	set bool
}

func newList(p *[]string) *listValue { return &listValue{p: p} }

func (l *listValue) String() string {
	if l == nil || l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l *listValue) Set(s string) error {
	if !l.set {
		*l.p = nil
		l.set = true
	}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l.p = append(*l.p, p)
		}
	}
	return nil
}

// mapValue is a k=v,k2=v2 flag; keys it sets override the file's.
type mapValue map[string]string

func (m *mapValue) String() string {
	if m == nil || *m == nil {
		return ""
	}
	keys := make([]string, 0, len(*m))
	for k := range *m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + (*m)[k])
	}
	return b.String()
}

func (m *mapValue) Set(s string) error {
	if *m == nil {
		*m = map[string]string{}
	}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("%q is not key=value", kv)
		}
		(*m)[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return nil
}
