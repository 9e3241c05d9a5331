// Package validate checks, offline, that what deploy/ and examples/ ship is
// well-formed and consistent with itself and with the bridge: every
// Kubernetes manifest decodes into the Kubernetes API types with unknown
// fields rejected, the compose file, the Jaeger/Tempo/Grafana/bridge configs
// and vLLM's logging config parse and agree on paths and ports, the systemd
// unit is hardened, the shell scripts parse, and the Dockerfile's build
// command yields a static binary.
//
// It is a separate module (k8s.io/api stays out of the bridge's go.mod) with
// tests only; it never contacts a cluster, a registry or the network, and
// never changes a file outside the test's temporary directory.
package validate
