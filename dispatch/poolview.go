package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gusthub/gust/hub"
)

// Gathering the answers of every invoker: how long to wait for the first,
// and then for each further one.
const (
	poolFirstAnswer = 2 * time.Second
	poolNextAnswer  = 150 * time.Millisecond
)

// PoolView asks the invokers on a NATS connection, wherever they run, for
// their warm containers and the runtime images they build (the console's
// view, api.Config.Pool).
type PoolView struct{ nc *nats.Conn }

// NewPoolView returns a view of the pools of the invokers reached over nc.
func NewPoolView(nc *nats.Conn) *PoolView { return &PoolView{nc: nc} }

// Containers returns the warm containers every invoker that answers keeps
// for namespace ns, by action. It waits up to 2 s for a first answer and
// 150 ms for each further one; when no invoker answers it returns
// ErrNoInvoker.
func (v *PoolView) Containers(ctx context.Context, ns string) ([]hub.ContainerInfo, error) {
	out := []hub.ContainerInfo{}
	err := v.gather(ctx, hub.PoolSubject(ns), "pools", func(b []byte) error {
		var cs []hub.ContainerInfo
		err := json.Unmarshal(b, &cs)
		out = append(out, cs...)
		return err
	})
	if err != nil {
		return nil, err
	}
	hub.SortContainers(out)
	return out, nil
}

// Building returns the runtime kinds whose images an invoker that answers
// is building now, sorted, waiting for answers as Containers does.
func (v *PoolView) Building(ctx context.Context) ([]string, error) {
	kinds := map[string]bool{}
	err := v.gather(ctx, hub.BuildingSubject, "runtime image builds", func(b []byte) error {
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
