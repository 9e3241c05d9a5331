// Package version holds the build's version information, set at link time
// with -ldflags "-X github.com/vllm-otel-bridge/vllm-otel-bridge/internal/version.Version=…".
// It never reads files or the environment.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by the linker; defaults describe a development build.
var (
	Version   = "dev"
	Commit    = ""
	BuildDate = ""
)

// Info is the build's identity.
type Info struct {
	Version   string
	Commit    string
	BuildDate string
	GoVersion string
}

// Get returns the build info, filling the commit from the Go build info when
// the linker did not set it.
func Get() Info {
	i := Info{Version: Version, Commit: Commit, BuildDate: BuildDate, GoVersion: runtime.Version()}
	if i.Commit == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					i.Commit = s.Value
				}
			}
		}
	}
	return i
}

// String is the one-line form printed by `vllm-otel-bridge version`.
func (i Info) String() string {
	s := fmt.Sprintf("vllm-otel-bridge %s (%s)", i.Version, i.GoVersion)
	if i.Commit != "" {
		s += " commit " + i.Commit
	}
	if i.BuildDate != "" {
		s += " built " + i.BuildDate
	}
	return s
}
