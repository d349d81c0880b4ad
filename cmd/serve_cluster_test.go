package gustcmd

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestServeRejectsBadClusterFlags: a role that does not exist and more
// replicas than a server alone can keep are refused at start, naming the
// flag.
func TestServeRejectsBadClusterFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--role", "worker"}, `--role "worker": use all, controller or invoker`},
		{[]string{"--replicas", "3"}, "--replicas 3: this NATS server runs alone"},
		{[]string{"--routes", "nats://127.0.0.1:1"}, "--routes needs --cluster-listen"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			args := append([]string{"gust", "serve", "--data-dir", t.TempDir(), "--sandbox", "process", "--listen", "127.0.0.1:0"}, tc.args...)
			err := run(context.Background(), args, func(string) string { return "" }, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
