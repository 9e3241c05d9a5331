package validate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const (
	bridgeContainer = "vllm-otel-bridge"
	vllmContainer   = "vllm"
	metricsPort     = 9464 // the bridge's default --metrics-addr port
)

// k8sObjects decodes every manifest under deploy/kubernetes (except the
// kustomization) strictly into its API type, keyed by "Kind/name".
func k8sObjects(t *testing.T) map[string]any {
	t.Helper()
	files, err := filepath.Glob(path("deploy", "kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes (%v)", err)
	}
	objs := map[string]any{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range yamlDocs(b) {
			name := fmt.Sprintf("%s#%d", filepath.Base(f), i)
			var meta struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var obj any
			switch meta.APIVersion + " " + meta.Kind {
			case "apps/v1 Deployment":
				obj = &appsv1.Deployment{}
			case "v1 ConfigMap":
				obj = &corev1.ConfigMap{}
			case "v1 Service":
				obj = &corev1.Service{}
			case "v1 ServiceAccount":
				obj = &corev1.ServiceAccount{}
			default:
				t.Errorf("%s: %s %s is not a kind this test knows; add it to k8sObjects", name, meta.APIVersion, meta.Kind)
				continue
			}
			// UnmarshalStrict rejects unknown and duplicate fields.
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Errorf("%s (%s %s): %v", name, meta.Kind, meta.Metadata.Name, err)
				continue
			}
			key := meta.Kind + "/" + meta.Metadata.Name
			if _, dup := objs[key]; dup {
				t.Errorf("%s: %s defined twice", name, key)
			}
			objs[key] = obj
		}
	}
	return objs
}

// k8sObject returns the manifests' object key ("Kind/name"), failing t
// when there is none of that kind and name.
func k8sObject[T any](t *testing.T, key string) T {
	t.Helper()
	obj, ok := k8sObjects(t)[key].(T)
	if !ok {
		t.Fatalf("no %s", key)
	}
	return obj
}

func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	objs := k8sObjects(t)
	for _, want := range []string{"Deployment/vllm", "ConfigMap/vllm-otel-bridge", "Service/vllm"} {
		if objs[want] == nil {
			t.Errorf("missing %s", want)
		}
	}
}

// TestStrictDecodingRejectsUnknownFields makes sure the strict decoding the
// other tests rely on does fail on a misspelt field.
func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	bad := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 1\n")
	if err := yaml.UnmarshalStrict(bad, &appsv1.Deployment{}); err == nil {
		t.Fatal("a Deployment with spec.replica decoded without error")
	}
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	var k struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Namespace  string            `json:"namespace"`
		Resources  []string          `json:"resources"`
		Images     []json.RawMessage `json:"images"`
	}
	if err := yaml.UnmarshalStrict(read(t, "deploy", "kubernetes", "kustomization.yaml"), &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	files, _ := filepath.Glob(path("deploy", "kubernetes", "*.yaml"))
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" {
			want = append(want, b)
		}
	}
	got := append([]string(nil), k.Resources...)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("kustomization resources %v, files %v", got, want)
	}
}

func podSpec(t *testing.T) (*appsv1.Deployment, *corev1.PodSpec, *corev1.Container, *corev1.Container) {
	t.Helper()
	d := k8sObject[*appsv1.Deployment](t, "Deployment/vllm")
	spec := &d.Spec.Template.Spec
	var bridge, vllm *corev1.Container
	for i := range spec.InitContainers {
		if spec.InitContainers[i].Name == bridgeContainer {
			bridge = &spec.InitContainers[i]
		}
	}
	for i := range spec.Containers {
		switch spec.Containers[i].Name {
		case vllmContainer:
			vllm = &spec.Containers[i]
		case bridgeContainer:
			bridge = &spec.Containers[i]
		}
	}
	if bridge == nil || vllm == nil {
		t.Fatalf("Deployment/vllm needs containers %q and %q", vllmContainer, bridgeContainer)
	}
	return d, spec, bridge, vllm
}

func TestDeploymentSidecar(t *testing.T) {
	d, spec, bridge, vllm := podSpec(t)
	if len(d.Spec.Selector.MatchLabels) == 0 {
		t.Error("Deployment has no selector labels")
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template's labels", k, v)
		}
	}
	// A native sidecar: an init container that keeps running.
	if bridge.RestartPolicy == nil || *bridge.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Error("the bridge must be a native sidecar (initContainers, restartPolicy: Always), so it outlives vLLM and ships the last profile")
	}

	for _, c := range append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...) {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[r]; !ok {
				t.Errorf("container %s: no %s request", c.Name, r)
			}
			if _, ok := c.Resources.Limits[r]; !ok {
				t.Errorf("container %s: no %s limit", c.Name, r)
			}
		}
		volumes := map[string]bool{}
		for _, v := range spec.Volumes {
			volumes[v.Name] = true
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				t.Errorf("container %s mounts volume %q, which the pod does not define", c.Name, m.Name)
			}
		}
	}

	// Probes on the bridge's health endpoints, on its metrics port.
	probes := map[string]*corev1.Probe{"liveness": bridge.LivenessProbe, "readiness": bridge.ReadinessProbe}
	wantPath := map[string]string{"liveness": "/healthz", "readiness": "/readyz"}
	for kind, p := range probes {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("bridge: no HTTP %s probe", kind)
			continue
		}
		if p.HTTPGet.Path != wantPath[kind] {
			t.Errorf("bridge %s probe path %q, want %q", kind, p.HTTPGet.Path, wantPath[kind])
		}
		if got := resolvePort(bridge, p.HTTPGet.Port); got != metricsPort {
			t.Errorf("bridge %s probe port %v resolves to %d, want %d", kind, p.HTTPGet.Port.String(), got, metricsPort)
		}
	}

	// The bridge runs unprivileged.
	sc := bridge.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("bridge securityContext must set runAsNonRoot, allowPrivilegeEscalation: false, readOnlyRootFilesystem")
	}

	// Shared emptyDirs: the profiler dir and the log, mounted in both.
	for _, vol := range []string{"profiles", "vllm-logs"} {
		var v *corev1.Volume
		for i := range spec.Volumes {
			if spec.Volumes[i].Name == vol {
				v = &spec.Volumes[i]
			}
		}
		if v == nil || v.EmptyDir == nil {
			t.Errorf("volume %q must be an emptyDir shared by vLLM and the bridge", vol)
			continue
		}
		if mountOf(vllm, vol) == "" || mountOf(bridge, vol) == "" {
			t.Errorf("volume %q must be mounted in both containers", vol)
		}
	}
}

// TestPodWiring checks the paths and ports vLLM, its logging config and the
// bridge config in the ConfigMap must agree on.
func TestPodWiring(t *testing.T) {
	_, spec, bridge, vllm := podSpec(t)
	cm := k8sObject[*corev1.ConfigMap](t, "ConfigMap/vllm-otel-bridge")
	cfg := generic(t, "ConfigMap bridge.yaml", []byte(cm.Data["bridge.yaml"]))

	// vLLM's profiler dir is the bridge's profiler dir.
	var prof map[string]any
	args := strings.Join(append(append([]string(nil), vllm.Command...), vllm.Args...), "\n")
	for _, a := range append(vllm.Command, vllm.Args...) {
		if v, ok := strings.CutPrefix(a, "--profiler-config="); ok {
			if err := json.Unmarshal([]byte(v), &prof); err != nil {
				t.Fatalf("vLLM --profiler-config is not JSON: %v", err)
			}
		}
	}
	if prof["profiler"] != "torch" {
		t.Errorf("vLLM --profiler-config profiler = %v, want torch", prof["profiler"])
	}
	vdir := str(prof["torch_profiler_dir"])
	if m := mountOf(vllm, "profiles"); vdir == "" || !underDir(vdir, m) {
		t.Errorf("vLLM torch_profiler_dir %q is not on the shared volume (mounted at %q)", vdir, m)
	}
	dirs, _ := dig(cfg, "profiler", "dirs").([]any)
	if len(dirs) != 1 || !underDir(str(dirs[0]), mountOf(bridge, "profiles")) {
		t.Errorf("bridge profiler.dirs %v is not the shared volume (mounted at %q)", dirs, mountOf(bridge, "profiles"))
	}
	for _, flag := range []string{"--enable-log-requests", "--enable-logging-iteration-details", "--otlp-traces-endpoint"} {
		if !strings.Contains(args, flag) {
			t.Errorf("vLLM args lack %s", flag)
		}
	}

	// vLLM's llm_request spans go to the bridge's receiver.
	var endpoint string
	for _, a := range vllm.Args {
		if v, ok := strings.CutPrefix(a, "--otlp-traces-endpoint="); ok {
			endpoint = v
		}
	}
	recv := str(dig(cfg, "receiver", "grpc"))
	if recv == "" || port(endpoint) != port(recv) || (host(endpoint) != "127.0.0.1" && host(endpoint) != "localhost") {
		t.Errorf("vLLM --otlp-traces-endpoint %q does not reach the bridge's receiver.grpc %q in the pod", endpoint, recv)
	}

	// vLLM's JSON log is where the bridge reads it.
	var logCfgPath string
	for _, e := range vllm.Env {
		if e.Name == "VLLM_LOGGING_CONFIG_PATH" {
			logCfgPath = e.Value
		}
	}
	cfgMount := mountOf(vllm, "config")
	key, ok := strings.CutPrefix(logCfgPath, cfgMount+"/")
	if !ok || cm.Data[key] == "" {
		t.Fatalf("VLLM_LOGGING_CONFIG_PATH %q is not a key of the ConfigMap mounted at %q", logCfgPath, cfgMount)
	}
	logFile := checkVLLMLoggingConfig(t, "ConfigMap "+key, []byte(cm.Data[key]))
	if !underDir(logFile, mountOf(vllm, "vllm-logs")) {
		t.Errorf("vLLM logs to %q, not on the shared log volume (%q)", logFile, mountOf(vllm, "vllm-logs"))
	}
	logs, _ := dig(cfg, "requests", "logs").([]any)
	if len(logs) != 2 || str(logs[0]) != logFile {
		t.Errorf("bridge requests.logs %v, want [%s, <the pod log>] (the file vLLM writes; same mount path in both containers)", logs, logFile)
	}
	// The kubelet's pod log folder, read-only in the bridge only, holds
	// this pod's vllm container log: <ns>_<pod>_<uid>/<container>/<n>.log.
	podLogs := mountOf(bridge, "pod-logs")
	var hostPath string
	for _, v := range spec.Volumes {
		if v.Name == "pod-logs" && v.HostPath != nil {
			hostPath = v.HostPath.Path
		}
	}
	if hostPath != "/var/log/pods" || podLogs != "/var/log/pods" || !readOnlyMount(bridge, "pod-logs") || mountOf(vllm, "pod-logs") != "" {
		t.Errorf("pod-logs: hostPath %q mounted at %q (read-only %v) in the bridge, %q in vLLM; want /var/log/pods, read-only, bridge only",
			hostPath, podLogs, readOnlyMount(bridge, "pod-logs"), mountOf(vllm, "pod-logs"))
	}
	if len(logs) == 2 {
		want := podLogs + "/${POD_NAMESPACE}_${POD_NAME}_*/" + vllm.Name + "/*.log"
		if str(logs[1]) != want {
			t.Errorf("bridge requests.logs[1] = %q, want this pod's %s container log %q", str(logs[1]), vllm.Name, want)
		}
		for _, e := range []string{"POD_NAMESPACE", "POD_NAME"} {
			if !hasFieldEnv(bridge, e) {
				t.Errorf("bridge env lacks %s from the downward API (requests.logs uses it)", e)
			}
		}
	}
	if mountOf(vllm, "vllm-logs") != mountOf(bridge, "vllm-logs") {
		t.Errorf("the log volume is mounted at %q in vLLM and %q in the bridge", mountOf(vllm, "vllm-logs"), mountOf(bridge, "vllm-logs"))
	}

	// Health and metrics where the probes look; state on a writable volume.
	if addr := str(dig(cfg, "telemetry", "addr")); port(addr) != fmt.Sprint(metricsPort) || strings.HasPrefix(addr, "127.") {
		t.Errorf("bridge telemetry.addr %q: kubelet probes need port %d on the pod IP", addr, metricsPort)
	}
	if sf := str(cfg["state_file"]); !underDir(sf, mountOf(bridge, "bridge-state")) {
		t.Errorf("bridge state_file %q is not on the bridge-state volume", sf)
	}
	if ep := str(dig(cfg, "output", "endpoint")); ep == "" {
		t.Error("bridge output.endpoint is empty")
	}
	if a := bridge.Args; len(a) < 3 || a[0] != "run" || a[1] != "--config" || !strings.HasPrefix(a[2], mountOf(bridge, "config")+"/") ||
		cm.Data[strings.TrimPrefix(a[2], mountOf(bridge, "config")+"/")] == "" {
		t.Errorf("bridge args %v must be run --config <ConfigMap key under %s>", a, mountOf(bridge, "config"))
	}
}

// readOnlyMount reports whether c mounts volume read-only.
func readOnlyMount(c *corev1.Container, volume string) bool {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m.ReadOnly
		}
	}
	return false
}

// hasFieldEnv reports whether c sets name from the downward API.
func hasFieldEnv(c *corev1.Container, name string) bool {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			return true
		}
	}
	return false
}

func TestServicePortsExist(t *testing.T) {
	_, _, bridge, vllm := podSpec(t)
	svc := k8sObject[*corev1.Service](t, "Service/vllm")
	for _, p := range svc.Spec.Ports {
		if resolvePort(vllm, p.TargetPort) == 0 && resolvePort(bridge, p.TargetPort) == 0 {
			t.Errorf("Service port %s targets %s, which no container exposes", p.Name, p.TargetPort.String())
		}
	}
}

func resolvePort(c *corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		for _, cp := range c.Ports {
			if cp.ContainerPort == p.IntVal {
				return p.IntVal
			}
		}
		return 0
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return 0
}

func mountOf(c *corev1.Container, volume string) string {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m.MountPath
		}
	}
	return ""
}
