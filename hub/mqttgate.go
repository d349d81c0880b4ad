package hub

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	"golang.org/x/time/rate"
)

// Limits of one device connection on the embedded MQTT listener. The NATS
// server has none of its own beyond its max_payload, so devices reach it
// through a gate: Gust's listener on --mqtt-listen relays each connection
// to the NATS server's MQTT listener on a loopback port and reads the
// device's packets as they pass.
const (
	// DefaultMQTTRate is how many PUBLISH packets per second one device
	// connection may send, after a burst of twice as many. A faster device
	// is paced, not cut off: the gate reads its packets no faster, so TCP
	// back-pressure slows its publishing and nothing it sent is lost.
	DefaultMQTTRate = 100
	// MaxDeviceMessage is the largest PUBLISH packet (payload, topic and
	// packet id) a device may send: the bus's message less room for the
	// headers NATS adds. A device that sends a larger one is disconnected,
	// as MQTT 3.1.1 has no way to refuse one message.
	MaxDeviceMessage = MaxMessage - 64<<10
)

// mqttGate is the embedded MQTT listener's front door (see DefaultMQTTRate).
type mqttGate struct {
	ln     net.Listener
	target string // the NATS server's MQTT listener
	rate   rate.Limit
	burst  int
	log    *slog.Logger

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// newMQTTGate listens on addr; serve relays to target once it is known.
// perSecond 0 is DefaultMQTTRate, negative is no bound.
func newMQTTGate(addr string, perSecond float64, log *slog.Logger) (*mqttGate, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("hub: --mqtt-listen %s: %w", addr, err)
	}
	g := &mqttGate{ln: ln, log: log, conns: map[net.Conn]struct{}{}, rate: rate.Inf}
	switch {
	case perSecond == 0:
		perSecond = DefaultMQTTRate
		fallthrough
	case perSecond > 0:
		g.rate, g.burst = rate.Limit(perSecond), max(1, int(2*perSecond))
	}
	return g, nil
}

// serve accepts device connections until close, in a goroutine of its own.
func (g *mqttGate) serve(target string) {
	g.target = target
	g.wg.Go(func() {
		for {
			c, err := g.ln.Accept()
			if err != nil {
				return // closed
			}
			if !g.track(c) {
				_ = c.Close()
				return
			}
			g.wg.Go(func() { g.relay(c) })
		}
	})
}

// track adds c to the open connections, unless the gate is closed.
func (g *mqttGate) track(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.conns[c] = struct{}{}
	return true
}

func (g *mqttGate) untrack(c net.Conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// close stops accepting, closes every connection and waits for them.
func (g *mqttGate) close() {
	g.mu.Lock()
	g.closed = true
	_ = g.ln.Close()
	for c := range g.conns {
		_ = c.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// relay joins device to the NATS server: the server's packets go back as
// they come, the device's go through forward.
func (g *mqttGate) relay(device net.Conn) {
	defer g.untrack(device)
	defer device.Close()
	server, err := net.Dial("tcp", g.target)
	if err != nil {
		g.log.Error("mqtt device not relayed", "remote", device.RemoteAddr().String(), "err", err)
		return
	}
	defer server.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(device, server)
		_ = device.Close() // the server hung up: so does the device's side
		cancel()
	}()
	if err := g.forward(ctx, device, server); err != nil {
		g.log.Warn("mqtt device disconnected", "remote", device.RemoteAddr().String(), "err", err)
	}
	_ = server.Close()
	<-done
}

// errDeviceMessage is a device's PUBLISH larger than MaxDeviceMessage.
var errDeviceMessage = errors.New("mqtt message too large")

// forward copies the device's packets to the server one at a time,
// waiting for the device's rate before each PUBLISH, and stops at a
// PUBLISH larger than MaxDeviceMessage. It returns nil when either side
// closed.
func (g *mqttGate) forward(ctx context.Context, device io.Reader, server io.Writer) error {
	var lim *rate.Limiter
	if g.rate != rate.Inf {
		lim = rate.NewLimiter(g.rate, g.burst)
	}
	in := bufio.NewReaderSize(device, 32<<10)
	out := bufio.NewWriterSize(server, 32<<10)
	user := ""
	paced := false
	var head [5]byte
	for {
		if in.Buffered() == 0 {
			if err := out.Flush(); err != nil {
				return nil
			}
		}
		kind, err := in.ReadByte()
		if err != nil {
			return nil
		}
		n, size, err := remainingLength(in)
		if err != nil {
			return err
		}
		switch kind >> 4 {
		case 1: // CONNECT: who it is, for the log
			if user == "" {
				if b, err := in.Peek(min(n, 4<<10)); err == nil || errors.Is(err, bufio.ErrBufferFull) {
					user = connectUser(b)
				}
			}
		case 3: // PUBLISH
			if n > MaxDeviceMessage {
				return fmt.Errorf("%w: device %q sent %d bytes, more than the %d a device may: disconnected", errDeviceMessage, user, n, MaxDeviceMessage)
			}
			if lim != nil && !lim.Allow() {
				if !paced {
					paced = true
					g.log.Info("mqtt device paced: it publishes faster than its limit", "user", user, "per_second", float64(g.rate))
				}
				if err := out.Flush(); err != nil {
					return nil
				}
				if err := lim.Wait(ctx); err != nil {
					return nil
				}
			}
		}
		head[0] = kind
		copy(head[1:], size)
		if _, err := out.Write(head[:1+len(size)]); err != nil {
			return nil
		}
		if _, err := io.CopyN(out, in, int64(n)); err != nil {
			return nil
		}
	}
}

// remainingLength reads an MQTT fixed header's remaining length: its value
// and its encoded bytes.
func remainingLength(r io.ByteReader) (n int, enc []byte, err error) {
	for i, mul := 0, 1; i < 4; i, mul = i+1, mul*128 {
		b, err := r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		enc = append(enc, b)
		n += int(b&127) * mul
		if b&128 == 0 {
			return n, enc, nil
		}
	}
	return 0, nil, errors.New("malformed mqtt packet length")
}

// connectUser is the user name of a CONNECT packet's body b (protocol
// name, level, flags, keep-alive, client id, will topic and message, user
// name), "" when it has none or b is cut short.
func connectUser(b []byte) string {
	field := func() ([]byte, bool) {
		if len(b) < 2 {
			return nil, false
		}
		l := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+l {
			return nil, false
		}
		f := b[2 : 2+l]
		b = b[2+l:]
		return f, true
	}
	if _, ok := field(); !ok || len(b) < 4 { // protocol name; level, flags, keep-alive
		return ""
	}
	flags := b[1]
	b = b[4:]
	if _, ok := field(); !ok { // client id
		return ""
	}
	if flags&0x04 != 0 { // will topic and message
		if _, ok := field(); !ok {
			return ""
		}
		if _, ok := field(); !ok {
			return ""
		}
	}
	if flags&0x80 == 0 {
		return ""
	}
	u, _ := field()
	return string(u)
}
