package proxy

import "testing"

// TestWithPidsLimit: an answer with an error string says first that the
// action hit its process limit; results and other errors stay as they are.
func TestWithPidsLimit(t *testing.T) {
	for _, tc := range []struct{ answer, limit, want string }{
		{`{"error":"fork 12 failed: [Errno 11] Resource temporarily unavailable"}`, "64",
			`{"error":"The action hit its process limit (pids 64). fork 12 failed: [Errno 11] Resource temporarily unavailable"}`},
		{`{"error":"` + msgExited + `"}`, "1024", `{"error":"The action hit its process limit (pids 1024). ` + msgExited + `"}`},
		{`{"error":"","code":7}`, "", `{"code":7,"error":"The action hit its process limit."}`},
		{`{"forks":11}`, "64", `{"forks":11}`},
		{`{"error":{"statusCode":429}}`, "64", `{"error":{"statusCode":429}}`},
		{`[1,2]`, "64", `[1,2]`},
	} {
		if got := string(withPidsLimit([]byte(tc.answer), tc.limit)); got != tc.want {
			t.Errorf("withPidsLimit(%s, %q) = %s, want %s", tc.answer, tc.limit, got, tc.want)
		}
	}
}
