package ingresstest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/feedtest"
	"github.com/gusthub/gust/feeds/webhook/ingress"
)

// Handler serves the receiver f as the API does: the body limited to
// ingress.MaxBody, a *feeds.RequestError written with its status as
// {"error", "code"}, any other error as a 500.
func Handler(f feeds.Receiver, emit feeds.Emit) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, ingress.MaxBody)
		err := f.Receive(w, r, emit)
		if err == nil {
			return
		}
		status, msg := http.StatusInternalServerError, err.Error()
		var re *feeds.RequestError
		if errors.As(err, &re) {
			status, msg = re.Status, re.Message
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg, "code": "test"})
	})
}

// Server starts Handler on 127.0.0.1 for the test's duration.
func Server(t testing.TB, f feeds.Source, emit feeds.Emit) *httptest.Server {
	t.Helper()
	recv, ok := f.(feeds.Receiver)
	if !ok {
		t.Fatalf("%T is not a feeds.Receiver", f)
	}
	srv := httptest.NewServer(Handler(recv, emit))
	t.Cleanup(srv.Close)
	return srv
}

// Send sends r (its method, headers and body) to f served by Server and
// returns the answer's status, its error message, and how many events f
// emitted.
func Send(t testing.TB, f feeds.Source, r *http.Request) (status int, message string, emitted int) {
	t.Helper()
	rec := feedtest.NewRecorder(t)
	srv := Server(t, f, rec.Emit)
	req, err := http.NewRequestWithContext(r.Context(), r.Method, srv.URL+"?"+r.URL.RawQuery, r.Body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = r.Header
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Error string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Error, len(rec.Events())
}

// Refused sends r to f as Send does and fails the test unless f answered
// status with a message that contains want, and emitted nothing.
func Refused(t testing.TB, f feeds.Source, r *http.Request, status int, want string) {
	t.Helper()
	got, msg, n := Send(t, f, r)
	if got != status || !strings.Contains(msg, want) {
		t.Errorf("got %d %q, want %d with %q", got, msg, status, want)
	}
	if n > 0 {
		t.Errorf("%d events emitted for a refused request", n)
	}
}

// Header returns a change to a request that sets header k to v, or
// removes it when v is "": for tables of bad requests.
func Header(k, v string) func(*http.Request) {
	return func(r *http.Request) {
		if v == "" {
			r.Header.Del(k)
			return
		}
		r.Header.Set(k, v)
	}
}

// Fuzz sends the receiver f one arbitrary request, method and headers
// given as "Name: value" lines, and fails when Receive panics, emits for a
// request it answers 4xx, or answers 2xx without emitting.
func Fuzz(t *testing.T, f feeds.Source, method, headers string, body []byte) {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/feeds/guest/feedtest", bytes.NewReader(body))
	if method != "" && !strings.ContainsAny(method, " \t\r\n") {
		req.Method = method
	}
	sc := bufio.NewScanner(strings.NewReader(headers))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k != "" {
			req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	emit, emitted := feedtest.ValidEmit(t)
	w := feedtest.Deliver(t, f, emit, req)
	n := emitted()
	switch {
	case w.Code >= 400 && w.Code < 500 && n > 0:
		t.Fatalf("answered %d (%s) but emitted %d events", w.Code, w.Body, n)
	case w.Code >= 200 && w.Code < 300 && n == 0 && req.Method == http.MethodPost:
		t.Fatalf("answered %d to a POST without emitting", w.Code)
	case w.Code >= 500:
		t.Fatalf("answered %d (%s): the emit never fails here", w.Code, w.Body)
	}
}
