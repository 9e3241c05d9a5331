package validate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompose(t *testing.T) {
	compose := generic(t, "deploy/compose/compose.yaml", read(t, "deploy", "compose", "compose.yaml"))
	services, _ := compose["services"].(map[string]any)
	for _, s := range []string{"vllm", "vllm-otel-bridge", "jaeger", "tempo", "grafana"} {
		if services[s] == nil {
			t.Errorf("compose: no service %q", s)
		}
	}
	// Tempo is AGPL: only ever used as a published image, never built here.
	for _, s := range []string{"tempo", "grafana", "jaeger", "vllm"} {
		if dig(services, s, "build") != nil || str(dig(services, s, "image")) == "" {
			t.Errorf("compose: service %s must use a published image and no build", s)
		}
	}
	if !strings.HasPrefix(str(dig(services, "tempo", "image")), "grafana/tempo:") {
		t.Errorf("compose: tempo image %q", dig(services, "tempo", "image"))
	}
	for name, s := range services {
		if img := str(dig(s, "image")); img != "" && !strings.Contains(img, ":") {
			t.Errorf("compose: service %s image %q has no tag", name, img)
		}
	}

	// The bridge is built from this repository with deploy/Dockerfile.
	ctx := str(dig(services, "vllm-otel-bridge", "build", "context"))
	df := str(dig(services, "vllm-otel-bridge", "build", "dockerfile"))
	if _, err := os.Stat(filepath.Join(path("deploy", "compose"), ctx, df)); err != nil || filepath.Clean(filepath.Join("deploy/compose", ctx)) != "." {
		t.Errorf("compose: bridge build context %q dockerfile %q must be the repository root and deploy/Dockerfile (%v)", ctx, df, err)
	}

	// Every bind-mounted file exists; named volumes are declared.
	volumes, _ := compose["volumes"].(map[string]any)
	for name, s := range services {
		vols, _ := dig(s, "volumes").([]any)
		for _, v := range vols {
			src, _, _ := strings.Cut(str(v), ":")
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if _, err := os.Stat(filepath.Join(path("deploy", "compose"), src)); err != nil {
					t.Errorf("compose: service %s mounts %q: %v", name, src, err)
				}
			} else if _, ok := volumes[src]; !ok {
				t.Errorf("compose: service %s uses undeclared volume %q", name, src)
			}
		}
	}

	// vLLM sends its spans to the bridge's receiver; the bridge to Jaeger;
	// Jaeger forwards to Tempo; Grafana reads Tempo.
	env := func(svc, key string) string { return str(dig(services, svc, "environment", key)) }
	var vllmEndpoint string
	var prof map[string]any
	for _, a := range dig(services, "vllm", "command").([]any) {
		if v, ok := strings.CutPrefix(str(a), "--otlp-traces-endpoint="); ok {
			vllmEndpoint = v
		}
		if v, ok := strings.CutPrefix(str(a), "--profiler-config="); ok {
			if err := json.Unmarshal([]byte(v), &prof); err != nil {
				t.Errorf("compose: vLLM --profiler-config: %v", err)
			}
		}
	}
	if host(vllmEndpoint) != "vllm-otel-bridge" || port(vllmEndpoint) != port(env("vllm-otel-bridge", "BRIDGE_RECEIVER_GRPC")) {
		t.Errorf("compose: vLLM --otlp-traces-endpoint %q does not reach the bridge receiver %q", vllmEndpoint, env("vllm-otel-bridge", "BRIDGE_RECEIVER_GRPC"))
	}
	if str(prof["torch_profiler_dir"]) != env("vllm-otel-bridge", "VLLM_PROFILER_DIR") {
		t.Errorf("compose: vLLM writes profiles to %v, the bridge watches %q", prof["torch_profiler_dir"], env("vllm-otel-bridge", "VLLM_PROFILER_DIR"))
	}
	if ep := env("vllm-otel-bridge", "OTLP_ENDPOINT"); services[host(ep)] == nil {
		t.Errorf("compose: bridge OTLP_ENDPOINT %q is not a compose service", ep)
	}
	jaeger := generic(t, "deploy/compose/jaeger.yaml", read(t, "deploy", "compose", "jaeger.yaml"))
	tempo := generic(t, "deploy/compose/tempo.yaml", read(t, "deploy", "compose", "tempo.yaml"))
	toTempo := str(dig(jaeger, "exporters", "otlp/tempo", "endpoint"))
	tempoGRPC := str(dig(tempo, "distributor", "receivers", "otlp", "protocols", "grpc", "endpoint"))
	if host(toTempo) != "tempo" || port(toTempo) != port(tempoGRPC) {
		t.Errorf("compose: Jaeger forwards to %q, Tempo receives OTLP/gRPC on %q", toTempo, tempoGRPC)
	}
	ds := generic(t, "grafana datasources", read(t, "deploy", "compose", "grafana", "provisioning", "datasources", "datasources.yaml"))
	found := false
	for _, d := range ds["datasources"].([]any) {
		if dig(d, "type") == "tempo" {
			found = true
			p, _ := dig(tempo, "server", "http_listen_port").(float64)
			want := fmt.Sprintf("http://tempo:%d", int(p))
			if str(dig(d, "url")) != want {
				t.Errorf("grafana Tempo data source url %q, want %q", dig(d, "url"), want)
			}
		}
	}
	if !found {
		t.Error("grafana provisioning has no Tempo data source")
	}
}
