package receiver

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if servers, connections or handlers of this
// package outlive the tests that started them.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		http.DefaultClient.CloseIdleConnections()
		if leaked := waitForLeaks(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked by the receiver tests:\n\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakMarkers are frames that only a live receiver or one of its
// connections has.
var leakMarkers = []string{
	"vllm-otel-bridge/receiver.(*Receiver)",
	"vllm-otel-bridge/receiver.grpcHandler",
	"google.golang.org/grpc.(*Server)",
	"google.golang.org/grpc/internal/transport.(*http2Server)",
	"net/http.(*Server).Serve",
	"net/http.(*conn).serve",
}

func waitForLeaks(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for g := range strings.SplitSeq(string(buf), "\n\n") {
			for _, m := range leakMarkers {
				if strings.Contains(g, m) {
					leaked = append(leaked, g)
					break
				}
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
