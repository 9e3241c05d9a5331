// Command idlecost measures what the capture controller costs while it
// waits: it runs a Controller with a schedule and a latency trigger
// against a vLLM stand-in (-serve, in another process) for -for, then
// prints the process's CPU time and peak RSS. It is a measuring tool for
// the README's numbers, never part of the daemon.
//
//	idlecost -serve 127.0.0.1:18000 &
//	idlecost -vllm http://127.0.0.1:18000 -for 2m
//	idlecost -off -for 2m            # the same process without a controller
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/capture"
)

func main() {
	serve := flag.String("serve", "", "serve a vLLM stand-in (/metrics, /start_profile, /stop_profile) on this address")
	vllm := flag.String("vllm", "", "vLLM URL for the controller")
	off := flag.Bool("off", false, "run no controller (baseline)")
	dur := flag.Duration("for", time.Minute, "how long to run")
	poll := flag.Duration("poll", 15*time.Second, "trigger poll interval")
	flag.Parse()
	if *serve != "" {
		fmt.Fprintln(os.Stderr, http.ListenAndServe(*serve, standin()))
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()
	if !*off {
		cfg := capture.DefaultConfig()
		cfg.VLLMURL = *vllm
		cfg.Every = 10 * time.Minute
		cfg.Duration = 20 * time.Second
		cfg.PollInterval = *poll
		cfg.StateFile = os.TempDir() + "/idlecost-capture.json"
		cfg.Triggers = []capture.Trigger{{Metric: "vllm:time_to_first_token_seconds", Quantile: 0.99, Above: 2, Window: max(5*time.Minute, 2**poll)}}
		c, err := capture.New(cfg, capture.Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_ = c.Run(ctx)
	} else {
		<-ctx.Done()
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("ran %s: cpu %s (%.4f%% of one core), max RSS %d KiB\n", *dur, cpu, 100*cpu.Seconds()/dur.Seconds(), ru.Maxrss)
}

// standin serves what vLLM serves: two histograms of 22 buckets with two
// engines and a few other families (about 9 KB, like a small vLLM).
func standin() http.Handler {
	var b strings.Builder
	for _, name := range []string{"vllm:time_to_first_token_seconds", "vllm:e2e_request_latency_seconds", "vllm:inter_token_latency_seconds", "vllm:request_queue_time_seconds"} {
		fmt.Fprintf(&b, "# HELP %s h\n# TYPE %s histogram\n", name, name)
		for _, engine := range []string{"0", "1"} {
			for i, le := range []string{"0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5", "0.75", "1.0", "2.5", "5.0", "7.5", "10.0", "20.0", "40.0", "80.0", "160.0", "640.0", "2560.0", "+Inf"} {
				fmt.Fprintf(&b, "%s_bucket{engine=%q,le=%q,model_name=\"m\"} %d.0\n", name, engine, le, 100*i)
			}
			fmt.Fprintf(&b, "%s_count{engine=%q,model_name=\"m\"} 2200.0\n%s_sum{engine=%q,model_name=\"m\"} 1234.5\n", name, engine, name, engine)
		}
	}
	body := b.String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) })
	mux.HandleFunc("POST /start_profile", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("POST /stop_profile", func(http.ResponseWriter, *http.Request) {})
	return mux
}
