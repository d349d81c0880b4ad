package egress_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gusthub/gust/egress"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		allow, addr string
		refused     string // the kind named, "" when allowed
	}{
		{"", "140.82.112.3", ""},
		{"", "2606:4700::1111", ""},
		{"", "127.0.0.1", "loopback"},
		{"", "127.3.2.1", "loopback"},
		{"", "::1", "loopback"},
		{"", "::ffff:127.0.0.1", "loopback"},
		{"", "169.254.169.254", "link-local"},
		{"", "fe80::1", "link-local"},
		{"", "10.1.2.3", "private"},
		{"", "172.31.255.255", "private"},
		{"", "192.168.0.1", "private"},
		{"", "100.64.0.1", "private"},
		{"", "fd00::1", "private"},
		{"", "0.0.0.0", "reserved"},
		{"", "::", "reserved"},
		{"", "224.0.0.1", "reserved"},
		{"", "255.255.255.255", "reserved"},
		{"loopback", "127.0.0.1", ""},
		{"loopback", "::1", ""},
		{"loopback", "169.254.169.254", "link-local"},
		{"private", "10.1.2.3", ""},
		{"10.1.0.0/16", "10.1.2.3", ""},
		{"10.1.0.0/16", "10.2.0.1", "private"},
		{"127.0.0.1", "127.0.0.1", ""},
		{"127.0.0.1", "127.0.0.2", "loopback"},
		{"all", "169.254.169.254", ""},
	} {
		p := egress.MustParse(tc.allow)
		err := p.Check(netip.MustParseAddr(tc.addr))
		var re *egress.RefusedError
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("allow %q: %s refused: %v", tc.allow, tc.addr, err)
		case tc.refused != "" && (!errors.As(err, &re) || re.Kind != tc.refused || !errors.Is(err, egress.ErrRefused)):
			t.Errorf("allow %q: %s: got %v, want a refusal as %s", tc.allow, tc.addr, err, tc.refused)
		}
	}
	// A nil policy is the default: public only.
	var none *egress.Policy
	if none.Check(netip.MustParseAddr("169.254.169.254")) == nil || none.Check(netip.MustParseAddr("140.82.112.3")) != nil {
		t.Error("a nil policy is not public-only")
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"localhost", "10.0.0.0/33", "intranet", "127.0.0.1:80"} {
		if _, err := egress.Parse(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("Parse(%q): %v", bad, err)
		}
	}
}

func TestCheckURL(t *testing.T) {
	p := egress.MustParse("")
	for _, tc := range []struct {
		url     string
		refused bool // by the policy (else a malformed URL, or fine)
		bad     bool
	}{
		{"https://api.github.com/", false, false},
		{"https://ghe.example.com/api/v3", false, false},
		{"http://169.254.169.254/latest/meta-data/", true, false},
		{"http://127.0.0.1:8080/", true, false},
		{"http://[::1]/", true, false},
		{"http://localhost:9000/", true, false},
		{"http://api.localhost./", true, false},
		{"http://10.0.0.5/", true, false},
		{"http://[::ffff:10.0.0.5]/", true, false},
		{"file:///etc/passwd", false, true},
		{"gopher://127.0.0.1/", false, true},
		{"https://", false, true},
	} {
		_, err := p.CheckURL(tc.url)
		switch {
		case tc.refused && !errors.Is(err, egress.ErrRefused):
			t.Errorf("%s: %v, want a refusal", tc.url, err)
		case tc.bad && (err == nil || errors.Is(err, egress.ErrRefused)):
			t.Errorf("%s: %v, want a malformed URL", tc.url, err)
		case !tc.refused && !tc.bad && err != nil:
			t.Errorf("%s: %v", tc.url, err)
		}
	}
	if _, err := egress.MustParse("loopback").CheckURL("http://localhost:9000/"); err != nil {
		t.Errorf("loopback allowed: %v", err)
	}
	if _, err := p.CheckURL("ws://127.0.0.1/", "wss", "ws"); !errors.Is(err, egress.ErrRefused) {
		t.Errorf("ws URL: %v", err)
	}
}

// TestDialTime: the client refuses at connect time what CheckURL cannot
// see: a name that resolves to a refused address, and a redirect from an
// allowed address to a refused one.
func TestDialTime(t *testing.T) {
	var hits atomic.Int32
	inner := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this host: %v", err)
	}
	inner.Listener = ln
	inner.Start()
	defer inner.Close()
	outer := httptest.NewServer(http.RedirectHandler(inner.URL+"/secret", http.StatusFound))
	defer outer.Close()

	public := egress.MustParse("")
	port := outer.URL[strings.LastIndex(outer.URL, ":"):]
	_, err = public.Client(5 * time.Second).Get("http://localhost" + port + "/")
	if !errors.Is(err, egress.ErrRefused) {
		t.Errorf("a name resolving to loopback: %v", err)
	}
	onlyOuter := egress.MustParse("127.0.0.1")
	if resp, err := onlyOuter.Client(5 * time.Second).Get(inner.URL + "/"); err == nil {
		resp.Body.Close()
		t.Error("127.0.0.2 reached with only 127.0.0.1 allowed")
	}
	_, err = onlyOuter.Client(5 * time.Second).Get(outer.URL + "/")
	if !errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), "127.0.0.2") {
		t.Errorf("a redirect to a refused address: %v", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the refused server was reached %d times", n)
	}
	resp, err := egress.MustParse("loopback").Client(5 * time.Second).Get(outer.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := hits.Load(); resp.StatusCode != http.StatusOK || n != 1 {
		t.Errorf("with loopback allowed: %d, %d hits", resp.StatusCode, n)
	}
}
