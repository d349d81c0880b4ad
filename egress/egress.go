package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrRefused is what a refused address's error wraps.
var ErrRefused = errors.New("egress: address refused")

// RefusedError says which address was refused and why.
type RefusedError struct {
	Addr netip.Addr
	// Kind names the range: "loopback", "private", "link-local", ...
	Kind string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("Gust does not connect to %s, a %s address, on a user's behalf (an operator may allow it: gust serve --egress-allow %s)",
		e.Addr, e.Kind, allowHint(e.Kind, e.Addr))
}

// Unwrap makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Unwrap() error { return ErrRefused }

func allowHint(kind string, a netip.Addr) string {
	switch kind {
	case Loopback, Private, LinkLocal:
		return kind
	}
	return netip.PrefixFrom(a, a.BitLen()).String()
}

// The names of the ranges a Policy refuses unless allowed; each is also a
// word --egress-allow takes.
const (
	Loopback  = "loopback"
	Private   = "private"    // RFC 1918, IPv6 unique local, shared (CGNAT) space
	LinkLocal = "link-local" // 169.254.0.0/16 (cloud metadata) and fe80::/10
	Reserved  = "reserved"   // unspecified, multicast, broadcast, documentation, ...
	// All allows every address: --egress-allow all.
	All = "all"
)

type kindRange struct {
	kind string
	p    netip.Prefix
}

// ranges are the non-public addresses, by kind.
var ranges = func() []kindRange {
	var out []kindRange
	add := func(kind string, prefixes ...string) {
		for _, s := range prefixes {
			out = append(out, kindRange{kind, netip.MustParsePrefix(s)})
		}
	}
	add(Loopback, "127.0.0.0/8", "::1/128")
	add(Private, "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
	add(LinkLocal, "169.254.0.0/16", "fe80::/10")
	add(Reserved, "0.0.0.0/8", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
		"224.0.0.0/4", "240.0.0.0/4", "::/128", "ff00::/8", "2001:db8::/32", "64:ff9b:1::/48", "100::/64")
	return out
}()

// kindOf returns the kind of range a is in, "" for a public address.
func kindOf(a netip.Addr) string {
	for _, r := range ranges {
		if r.p.Contains(a) {
			return r.kind
		}
	}
	return ""
}

// Policy is the set of addresses Gust may connect to on a user's behalf:
// public ones, and the ranges an operator allowed. The zero value and nil
// allow public addresses only. A Policy is immutable and safe for
// concurrent use.
type Policy struct {
	kinds    map[string]bool
	prefixes []netip.Prefix
	all      bool

	once      sync.Once
	transport *http.Transport // shared by Client's clients
}

// public is the policy of a nil *Policy.
var public = &Policy{}

func (p *Policy) orPublic() *Policy {
	if p == nil {
		return public
	}
	return p
}

// Parse reads an allow-list: a comma list of range names (loopback,
// private, link-local, reserved, all), CIDR prefixes (10.1.0.0/16) and
// addresses (192.168.1.20). An empty list allows public addresses only.
func Parse(list string) (*Policy, error) {
	p := &Policy{kinds: map[string]bool{}}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		switch item {
		case "":
			continue
		case All, "*":
			p.all = true
			continue
		case Loopback, Private, LinkLocal, Reserved:
			p.kinds[item] = true
			continue
		}
		if pre, err := netip.ParsePrefix(item); err == nil {
			p.prefixes = append(p.prefixes, pre.Masked())
			continue
		}
		if a, err := netip.ParseAddr(item); err == nil {
			p.prefixes = append(p.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		return nil, fmt.Errorf("egress allow-list: %q is neither loopback, private, link-local, reserved, all, an address nor a CIDR prefix", item)
	}
	return p, nil
}

// MustParse is Parse for lists known to be valid (tests).
func MustParse(list string) *Policy {
	p, err := Parse(list)
	if err != nil {
		panic(err)
	}
	return p
}

// Check returns nil when p allows connecting to a, else a *RefusedError.
func (p *Policy) Check(a netip.Addr) error {
	a = a.Unmap()
	if p != nil && p.all {
		return nil
	}
	kind := kindOf(a)
	if kind == "" {
		return nil
	}
	if p != nil {
		if p.kinds[kind] {
			return nil
		}
		for _, pre := range p.prefixes {
			if pre.Contains(a) {
				return nil
			}
		}
	}
	return &RefusedError{Addr: a, Kind: kind}
}

// CheckURL parses raw, which must be a URL of one of schemes (default
// https and http), and refuses it when its host is an address p refuses or
// a localhost name: the obvious cases, answered when the URL is given.
// Names are not resolved here; Control checks what they resolve to when
// Gust connects.
func (p *Policy) CheckURL(raw string, schemes ...string) (*url.URL, error) {
	if len(schemes) == 0 {
		schemes = []string{"https", "http"}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !oneOf(u.Scheme, schemes) {
		return nil, fmt.Errorf("must be an %s URL, not %q", strings.Join(schemes, " or "), raw)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		return u, p.Check(a)
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return u, p.Check(netip.AddrFrom4([4]byte{127, 0, 0, 1}))
	}
	return u, nil
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}

// Control is a net.Dialer Control function: it refuses a connection to an
// address p does not allow. It runs after name resolution, for each
// address tried, so DNS rebinding and redirects cannot get past it.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress: %s address %q: %w", network, address, err)
	}
	return p.Check(ap.Addr())
}

// Dialer is a net.Dialer that connects only where p allows.
func (p *Policy) Dialer() *net.Dialer {
	p = p.orPublic()
	return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: p.Control}
}

// DialContext is Dialer().DialContext, for transports and WebSocket
// dialers.
func (p *Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return p.Dialer().DialContext(ctx, network, address)
}

// Client is an HTTP client with the given overall timeout that connects
// only where p allows. It uses no proxy from the environment: the policy
// is about the address Gust itself reaches.
func (p *Policy) Client(timeout time.Duration) *http.Client {
	p = p.orPublic()
	p.once.Do(func() {
		p.transport = &http.Transport{
			DialContext:           p.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	})
	return &http.Client{Timeout: timeout, Transport: p.transport}
}
