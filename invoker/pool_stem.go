package invoker

// Stem cells: pre-warmed containers of a kind and memory size that no
// action has initialized yet, kept at the wanted count and taken by the
// first activation of that kind that finds no warm container.

import (
	"errors"
	"fmt"
	"time"

	"github.com/gusthub/gust/internal/backoff"
)

func stemKey(kind string, memMB int) string { return fmt.Sprintf("%s/%d", kind, memMB) }

// takeStem turns a stem cell of spec's kind and memory into a fresh
// container of key, and starts its replacement.
func (p *Pool) takeStem(key string, spec Spec, concurrency int) *container {
	sk := stemKey(spec.Kind, spec.MemoryMB)
	cs := p.stems[sk]
	if len(cs) == 0 {
		return nil
	}
	c := cs[len(cs)-1]
	p.stems[sk] = cs[:len(cs)-1]
	p.stemHave[sk]--
	c.stemKey, c.key, c.maxActive, c.fresh = "", key, max(concurrency, 1), true
	c.queues = p.queues(spec, concurrency)
	p.warm[key] = append(p.warm[key], c)
	p.replenishLocked(sk)
	return c
}

// KeepStemCells asks the pool to keep count pre-warmed containers of spec
// (its Kind and MemoryMB) ready, and starts them.
func (p *Pool) KeepStemCells(spec Spec, count int) {
	sk := stemKey(spec.Kind, spec.MemoryMB)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stemSpec[sk], p.stemWant[sk] = spec, count
	p.replenishLocked(sk)
}

// Pauses between attempts to start a stem cell after one failed.
const (
	minStemPause = 500 * time.Millisecond
	maxStemPause = 30 * time.Second
)

// replenishLocked starts stem cells until the wanted count is reached,
// unless one failed to start a moment ago.
func (p *Pool) replenishLocked(sk string) {
	if time.Now().Before(p.stemRetry[sk]) {
		return
	}
	for p.stemHave[sk] < p.stemWant[sk] {
		if !p.startStemLocked(sk) {
			return
		}
	}
}

// startStemLocked starts one stem cell in the background if memory allows.
func (p *Pool) startStemLocked(sk string) bool {
	spec := p.stemSpec[sk]
	if p.closed || p.usedMB+spec.MemoryMB > p.opts.MemoryMB {
		return false
	}
	p.usedMB += spec.MemoryMB
	p.stemHave[sk]++
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		c := p.newContainer(spec, "", 1)
		err := p.create(c, spec)
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			c.dead = true
			p.usedMB -= c.memMB
			p.stemHave[sk]--
			if errors.Is(err, ErrPoolClosed) {
				return
			}
			b := p.stemPause[sk]
			if b == nil {
				b = &backoff.Backoff{Min: minStemPause, Max: maxStemPause}
				p.stemPause[sk] = b
			}
			pause := b.Next()
			p.stemRetry[sk] = time.Now().Add(pause)
			p.log.Warn("start stem cell failed", "kind", spec.Kind, "retry_in", pause, "err", err)
			time.AfterFunc(pause, func() {
				p.mu.Lock()
				defer p.mu.Unlock()
				p.replenishLocked(sk)
			})
			return
		}
		delete(p.stemPause, sk)
		delete(p.stemRetry, sk)
		// A stem cell's creation is a cold start without its /init.
		p.sampleColdLocked(c.image, c.createTook)
		c.created, c.stemKey = false, sk
		p.stems[sk] = append(p.stems[sk], c)
	}()
	return true
}
