package validate

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerfileBuildsStaticBinary runs the Dockerfile's build command
// (CGO_ENABLED=0 go build ./cmd/vllm-otel-bridge) and checks the result is a
// static ELF: no interpreter, no shared libraries, built without cgo.
func TestDockerfileBuildsStaticBinary(t *testing.T) {
	df := string(read(t, "deploy", "Dockerfile"))
	for _, want := range []string{"CGO_ENABLED=0 go build", "./cmd/vllm-otel-bridge", "FROM gcr.io/distroless/static", "USER 65532"} {
		if !strings.Contains(df, want) {
			t.Errorf("deploy/Dockerfile lacks %q", want)
		}
	}
	lastFrom := df[strings.LastIndex(df, "\nFROM "):]
	if !strings.Contains(strings.SplitN(lastFrom, "\n", 3)[1], "nonroot") {
		t.Errorf("the final stage %q must be a nonroot distroless image", strings.SplitN(lastFrom, "\n", 3)[1])
	}
	checkGoVersion(t, df)

	if testing.Short() {
		t.Log("-short: not building") // still checked the Dockerfile above
		return
	}
	out := filepath.Join(t.TempDir(), "vllm-otel-bridge")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/vllm-otel-bridge")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./cmd/vllm-otel-bridge: %v\n%s", err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has an ELF interpreter (PT_INTERP): it is dynamically linked")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary needs shared libraries %v", libs)
	}
	bi, err := buildinfo.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range bi.Settings {
		if s.Key == "CGO_ENABLED" && s.Value != "0" {
			t.Errorf("built with CGO_ENABLED=%s", s.Value)
		}
	}
	if bi.Path != "github.com/vllm-otel-bridge/vllm-otel-bridge/cmd/vllm-otel-bridge" {
		t.Errorf("main package %q", bi.Path)
	}
}

// checkGoVersion checks the Dockerfile's Go is the go.mod's Go (same minor).
func checkGoVersion(t *testing.T, df string) {
	t.Helper()
	var modGo string
	sc := bufio.NewScanner(bytes.NewReader(read(t, "go.mod")))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go "); ok {
			modGo = strings.TrimSpace(v)
		}
	}
	var dfGo string
	for _, l := range strings.Split(df, "\n") {
		if v, ok := strings.CutPrefix(l, "ARG GO_VERSION="); ok {
			dfGo = strings.TrimSpace(v)
		}
	}
	minor := func(v string) string {
		p := strings.SplitN(v, ".", 3)
		if len(p) < 2 {
			return v
		}
		return p[0] + "." + p[1]
	}
	if modGo == "" || dfGo == "" || minor(modGo) != minor(dfGo) {
		t.Errorf("Dockerfile GO_VERSION %q and go.mod go %q differ", dfGo, modGo)
	}
}

func TestSystemdUnitHardened(t *testing.T) {
	unit := map[string][]string{}
	section := ""
	for _, l := range strings.Split(string(read(t, "deploy", "systemd", "vllm-otel-bridge.service")), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "[") {
			section = strings.Trim(l, "[]")
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Errorf("line %q is not key=value", l)
			continue
		}
		unit[section+"."+k] = append(unit[section+"."+k], v)
	}
	want := map[string]string{
		"Service.NoNewPrivileges": "yes",
		"Service.ProtectSystem":   "strict",
		"Service.ProtectHome":     "yes",
		"Service.PrivateTmp":      "yes",
		"Service.KillSignal":      "SIGTERM",
		"Install.WantedBy":        "multi-user.target",
	}
	for k, v := range want {
		if got := unit[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %v, want %s", k, got, v)
		}
	}
	if len(unit["Service.User"]) == 0 && (len(unit["Service.DynamicUser"]) == 0 || unit["Service.DynamicUser"][0] != "yes") {
		t.Error("the unit must run as a dedicated user (User=) or DynamicUser=yes")
	}
	if u := unit["Service.User"]; len(u) == 1 && u[0] == "root" {
		t.Error("the unit runs as root")
	}
	if len(unit["Service.StateDirectory"]) == 0 && len(unit["Service.ReadWritePaths"]) == 0 {
		t.Error("with ProtectSystem=strict the state needs StateDirectory= or ReadWritePaths=")
	}
	if cb := unit["Service.CapabilityBoundingSet"]; len(cb) != 1 || cb[0] != "" {
		t.Errorf("CapabilityBoundingSet = %v, want empty (no capabilities)", cb)
	}
	exec := unit["Service.ExecStart"]
	if len(exec) != 1 || !strings.Contains(exec[0], "vllm-otel-bridge run --config ") {
		t.Errorf("ExecStart = %v", exec)
	}
}
