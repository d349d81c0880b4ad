package invoker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gusthub/gust/hub"
)

// ContainerInfo describes one warm container of a Pool, as the console
// shows it.
type ContainerInfo struct {
	// Action is the full name of the action the container runs
	// ("/ns/pkg/name"), Version its version.
	Action  string `json:"action"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
	// MemoryMB is the container's memory limit.
	MemoryMB int `json:"memoryMB"`
	// State is "starting" (before /init ends), "busy", "idle" or "paused".
	State string `json:"state"`
	// Active is how many activations it runs now.
	Active int `json:"active"`
	// LastUsed is when its last activation ended (or began).
	LastUsed time.Time `json:"lastUsed"`
}

// Containers returns the warm containers that serve invocations of
// namespace ns, by action; stem cells belong to no namespace and are not
// among them.
func (p *Pool) Containers(ns string) []ContainerInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []ContainerInfo
	for key, cs := range p.warm {
		parts := strings.SplitN(key, "|", 4) // see warmKey
		if len(parts) != 4 || parts[0] != ns {
			continue
		}
		for _, c := range cs {
			state := "idle"
			switch {
			case !c.initialized:
				state = "starting"
			case c.paused:
				state = "paused"
			case c.active > 0:
				state = "busy"
			}
			out = append(out, ContainerInfo{Action: parts[1], Version: parts[2], Kind: c.kind, MemoryMB: c.memMB,
				State: state, Active: c.active, LastUsed: c.lastUsed.UTC()})
		}
	}
	slices.SortFunc(out, byAction)
	return out
}

// byAction orders containers by action, then the most recently used first.
func byAction(a, b ContainerInfo) int {
	return cmp.Or(strings.Compare(a.Action, b.Action), b.LastUsed.Compare(a.LastUsed))
}

// poolSubjectPrefix + a namespace token is the subject on which invokers
// answer what warm containers they keep for that namespace.
const poolSubjectPrefix = "gust.pool."

// Gathering the answers of every invoker: how long to wait for the first,
// and then for each further one.
const (
	poolFirstAnswer = 2 * time.Second
	poolNextAnswer  = 150 * time.Millisecond
)

// servePool answers requests for the warm containers of a namespace with
// this invoker's, until the returned subscription is drained.
func (iv *Invoker) servePool() (*nats.Subscription, error) {
	return iv.answer(poolSubjectPrefix+"*", func(m *nats.Msg) any {
		cs := iv.pool.Containers(hub.DecodeToken(strings.TrimPrefix(m.Subject, poolSubjectPrefix)))
		if cs == nil {
			cs = []ContainerInfo{}
		}
		return cs
	})
}

// serveBuilding answers requests for the runtime images being built with
// Options.Building, until the returned subscription is drained.
func (iv *Invoker) serveBuilding() (*nats.Subscription, error) {
	return iv.answer(buildingSubject, func(*nats.Msg) any {
		if ks := iv.opts.Building(); ks != nil {
			return ks
		}
		return []string{}
	})
}

// answer responds to the requests on subject with the JSON of what
// answer returns.
func (iv *Invoker) answer(subject string, answer func(*nats.Msg) any) (*nats.Subscription, error) {
	return iv.nc.Subscribe(subject, func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		b, err := json.Marshal(answer(m))
		if err != nil {
			return
		}
		if err := m.Respond(b); err != nil {
			iv.log.Debug("answer request failed", "subject", subject, "err", err)
		}
	})
}

// PoolView asks the invokers on a NATS connection, wherever they run, for
// their warm containers.
type PoolView struct{ nc *nats.Conn }

// NewPoolView returns a view of the pools of the invokers reached over nc.
func NewPoolView(nc *nats.Conn) *PoolView { return &PoolView{nc: nc} }

// Containers returns the warm containers every invoker that answers keeps
// for namespace ns, by action. It waits up to 2 s for a first answer and
// 150 ms for each further one; when no invoker answers it returns
// ErrNoInvoker.
func (v *PoolView) Containers(ctx context.Context, ns string) ([]ContainerInfo, error) {
	out := []ContainerInfo{}
	err := v.gather(ctx, poolSubjectPrefix+hub.EncodeToken(ns), "pools", func(b []byte) error {
		var cs []ContainerInfo
		err := json.Unmarshal(b, &cs)
		out = append(out, cs...)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, byAction)
	return out, nil
}

// buildingSubject is the subject on which invokers answer which runtime
// images they are building (Options.Building).
const buildingSubject = "gust.runtimes.building"

// Building returns the runtime kinds whose images an invoker that answers
// is building now, sorted, waiting for answers as Containers does.
func (v *PoolView) Building(ctx context.Context) ([]string, error) {
	kinds := map[string]bool{}
	err := v.gather(ctx, buildingSubject, "runtime image builds", func(b []byte) error {
		var ks []string
		err := json.Unmarshal(b, &ks)
		for _, k := range ks {
			kinds[k] = true
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(kinds)), nil
}

// gather asks every invoker on subject and hands each answer to take,
// until none comes within poolNextAnswer of the last; what names what is
// asked, for errors.
func (v *PoolView) gather(ctx context.Context, subject, what string, take func([]byte) error) error {
	inbox := v.nc.NewRespInbox()
	sub, err := v.nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("ask invokers for their %s: %w", what, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := v.nc.PublishRequest(subject, inbox, nil); err != nil {
		return fmt.Errorf("ask invokers for their %s: %w", what, err)
	}
	wait, answered := poolFirstAnswer, false
	for {
		wctx, cancel := context.WithTimeout(ctx, wait)
		m, err := sub.NextMsgWithContext(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && answered:
			return nil
		case err != nil:
			return ErrNoInvoker
		}
		if err := take(m.Data); err != nil {
			return fmt.Errorf("an invoker's answer about its %s: %w", what, err)
		}
		wait, answered = poolNextAnswer, true
	}
}

// ErrNoInvoker means no invoker answered.
var ErrNoInvoker = errors.New("no invoker answered")

// Load is what the invoker advertises of itself to the cluster
// (hub.Advertise): its pool's capacity and use, the activations it runs,
// and its warm containers by action.
func (iv *Invoker) Load() *hub.Load {
	s := iv.pool.Stats()
	l := &hub.Load{CapacityMB: s.CapacityMB, UsedMB: s.UsedMB, Containers: s.Warm, Busy: s.Busy,
		InFlight: int(iv.inFlight.Load()), Slots: iv.opts.MaxInFlight, Warm: iv.pool.warmByAction()}
	if iv.homeReady.Load() {
		l.Queue = iv.queue
	}
	return l
}

// warmByAction counts the warm containers by action ("/ns/pkg/name").
func (p *Pool) warmByAction() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for key, cs := range p.warm {
		if parts := strings.SplitN(key, "|", 4); len(parts) == 4 && len(cs) > 0 { // see warmKey
			out[parts[1]] += len(cs)
		}
	}
	return out
}
