package invoker

import (
	"encoding/json"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/gusthub/gust/hub"
)

// Containers returns the warm containers that serve invocations of
// namespace ns, by action; stem cells belong to no namespace and are not
// among them.
func (p *Pool) Containers(ns string) []hub.ContainerInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []hub.ContainerInfo
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
			out = append(out, hub.ContainerInfo{Action: parts[1], Version: parts[2], Kind: c.kind, MemoryMB: c.memMB,
				State: state, Active: c.active, LastUsed: c.lastUsed.UTC()})
		}
	}
	hub.SortContainers(out)
	return out
}

// servePool answers requests for the warm containers of a namespace with
// this invoker's, until the returned subscription is drained.
func (iv *Invoker) servePool() (*nats.Subscription, error) {
	return iv.answer(hub.PoolSubjectPrefix+"*", func(m *nats.Msg) any {
		cs := iv.pool.Containers(hub.DecodeToken(strings.TrimPrefix(m.Subject, hub.PoolSubjectPrefix)))
		if cs == nil {
			cs = []hub.ContainerInfo{}
		}
		return cs
	})
}

// serveBuilding answers requests for the runtime images being built with
// Options.Building, until the returned subscription is drained.
func (iv *Invoker) serveBuilding() (*nats.Subscription, error) {
	return iv.answer(hub.BuildingSubject, func(*nats.Msg) any {
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

// Load is what the invoker advertises of itself to the cluster
// (hub.Advertise): its pool's capacity and use, the activations it runs,
// and its warm containers by action.
func (iv *Invoker) Load() *hub.Load {
	s := iv.pool.Stats()
	l := &hub.Load{CapacityMB: s.CapacityMB, UsedMB: s.UsedMB, Containers: s.Warm, Busy: s.Busy,
		InFlight: iv.running.len(), Slots: iv.opts.MaxInFlight, Warm: iv.pool.warmByAction()}
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
