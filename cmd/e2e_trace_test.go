package gustcmd

import (
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace receiver on loopback: it decodes the
// exporter's protobuf requests and keeps the spans.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []receivedSpan
}

type receivedSpan struct{ name, traceID, spanID, parentID string }

func (rc *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				rc.spans = append(rc.spans, receivedSpan{name: s.GetName(), traceID: hex.EncodeToString(s.GetTraceId()),
					spanID: hex.EncodeToString(s.GetSpanId()), parentID: hex.EncodeToString(s.GetParentSpanId())})
			}
		}
	}
	rc.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (rc *otlpReceiver) find(name string) (receivedSpan, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, s := range rc.spans {
		if strings.HasPrefix(s.name, name) {
			return s, true
		}
	}
	return receivedSpan{}, false
}

// traceEchoCode returns the trace context the action got in its environment.
const traceEchoCode = `function main(p) { return { traceId: process.env.__OW_TRACE_ID || "", traceparent: process.env.__OW_TRACEPARENT || "" }; }`

type traceEcho struct {
	TraceID     string `json:"traceId"`
	TraceParent string `json:"traceparent"`
}

func (r record) annotation(key string) string {
	for _, a := range r.Annotations {
		var kv struct {
			Key   string
			Value json.RawMessage
		}
		var s string
		if json.Unmarshal(a, &kv) == nil && kv.Key == key && json.Unmarshal(kv.Value, &s) == nil {
			return s
		}
	}
	return ""
}

// TestE2ETraceContext: a traceparent sent with a fire reaches the rule's
// action (__OW_TRACE_ID, __OW_TRACEPARENT) and its records, through spans
// exported over OTLP/HTTP to a real receiver: trigger span child of the
// caller's, activation span child of the trigger's, the action's context
// the activation span's. An invoke's traceparent does the same.
func TestE2ETraceContext(t *testing.T) {
	requireEngine(t)
	rc := &otlpReceiver{}
	collector := httptest.NewServer(rc)
	t.Cleanup(collector.Close) // after gust's own cleanup: its last spans are sent
	dir := t.TempDir()
	g := startGust(t, dir, "--otlp-endpoint", collector.URL)
	cli := cliEnv(dir)
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/env", nodeAction(traceEchoCode), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/traced", map[string]any{}, nil)
	mustGust(t, cli, "rule", "create", "r", "traced", "env")

	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	var fired struct{ ActivationID string }
	g.mustCall(t, 202, "POST", "/namespaces/_/triggers/traced", map[string]int{"n": 1}, &fired, "traceparent", "00-"+traceID+"-"+callerSpan+"-01")
	recs := g.waitActivations(t, "the traced action", func(rs []record) bool { return countNamed(rs, "env") == 1 })
	var action, trigger record
	for _, r := range recs {
		switch r.Name {
		case "env":
			action = r
		case "traced":
			trigger = r
		}
	}
	var got traceEcho
	if err := json.Unmarshal(action.Response.Result, &got); err != nil {
		t.Fatal(err)
	}
	if got.TraceID != traceID || !strings.HasPrefix(got.TraceParent, "00-"+traceID+"-") || strings.Contains(got.TraceParent, callerSpan) {
		t.Errorf("the action got __OW_TRACE_ID=%q __OW_TRACEPARENT=%q, want trace %s under a span of Gust's", got.TraceID, got.TraceParent, traceID)
	}
	if a := action.annotation("traceparent"); a != got.TraceParent {
		t.Errorf("the action's record has traceparent %q, the action got %q", a, got.TraceParent)
	}
	if a := trigger.annotation("traceparent"); !strings.HasPrefix(a, "00-"+traceID+"-") {
		t.Errorf("the trigger's record has traceparent %q, want trace %s", a, traceID)
	}

	var trig, act receivedSpan
	deadline := time.Now().Add(60 * time.Second)
	for {
		var ok1, ok2 bool
		trig, ok1 = rc.find("trigger guest/traced")
		act, ok2 = rc.find("activation /guest/env")
		if ok1 && ok2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spans not exported: %+v", rc.spans)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if trig.traceID != traceID || trig.parentID != callerSpan {
		t.Errorf("trigger span %+v, want trace %s with parent %s", trig, traceID, callerSpan)
	}
	if act.traceID != traceID || act.parentID != trig.spanID {
		t.Errorf("activation span %+v, want trace %s with parent %s (the trigger's)", act, traceID, trig.spanID)
	}
	if got.TraceParent != "00-"+traceID+"-"+act.spanID+"-01" {
		t.Errorf("the action got %q, want the activation span's context (span %s)", got.TraceParent, act.spanID)
	}

	const invokeTrace = "0af7651916cd43dd8448eb211c80319c"
	var inv record
	g.mustCall(t, 200, "POST", "/namespaces/_/actions/env?blocking=true", map[string]int{}, &inv, "traceparent", "00-"+invokeTrace+"-b7ad6b7169203331-01")
	var viaInvoke traceEcho
	if err := json.Unmarshal(inv.Response.Result, &viaInvoke); err != nil {
		t.Fatal(err)
	}
	if viaInvoke.TraceID != invokeTrace || inv.annotation("traceparent") != viaInvoke.TraceParent {
		t.Errorf("invoke: the action got %+v, its record has traceparent %q; want trace %s on both", viaInvoke, inv.annotation("traceparent"), invokeTrace)
	}
}

// TestE2ETraceContextWithoutExport: without --otlp-endpoint an invoke's
// traceparent reaches the action and its record unchanged.
func TestE2ETraceContextWithoutExport(t *testing.T) {
	requireEngine(t)
	g := startGust(t, t.TempDir())
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/env", nodeAction(traceEchoCode), nil)
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	var inv record
	g.mustCall(t, 200, "POST", "/namespaces/_/actions/env?blocking=true", map[string]int{}, &inv, "traceparent", tp)
	var got traceEcho
	if err := json.Unmarshal(inv.Response.Result, &got); err != nil {
		t.Fatal(err)
	}
	if got.TraceParent != tp || got.TraceID != "0af7651916cd43dd8448eb211c80319c" || inv.annotation("traceparent") != tp {
		t.Errorf("the action got %+v, its record has %q; want %s unchanged", got, inv.annotation("traceparent"), tp)
	}
	var plain record
	g.mustCall(t, 200, "POST", "/namespaces/_/actions/env?blocking=true", map[string]int{}, &plain, "traceparent", "not-a-traceparent")
	if json.Unmarshal(plain.Response.Result, &got) != nil || got.TraceParent != "" || got.TraceID != "" || plain.annotation("traceparent") != "" {
		t.Errorf("an invalid traceparent was passed on: %+v", got)
	}
}
