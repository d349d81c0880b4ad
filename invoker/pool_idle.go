package invoker

// The idle lifecycle of the pool's containers: a container left idle is
// paused after PauseGrace and removed after IdleTTL; removal frees its
// memory and destroys it in the background.

import (
	"context"
	"time"
)

// armIdleLocked schedules pausing an idle container after the grace, and
// removing it after the idle TTL.
func (p *Pool) armIdleLocked(c *container) {
	c.stopTimer()
	switch {
	case p.opts.PauseGrace > 0 && !c.paused:
		c.timer = time.AfterFunc(p.opts.PauseGrace, func() { p.pauseIdle(c) })
	case p.opts.IdleTTL > 0:
		c.timer = time.AfterFunc(p.opts.IdleTTL, func() { p.expireIdle(c) })
	}
}

func (p *Pool) pauseIdle(c *container) {
	p.mu.Lock()
	if c.dead || c.active > 0 || c.paused || p.closed {
		p.mu.Unlock()
		return
	}
	c.paused = true // claimed: a concurrent Acquire resumes it
	p.bg.Add(1)
	c.pauseMu.Lock()
	p.mu.Unlock()
	defer p.bg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.Pause(ctx)
	c.pauseMu.Unlock()
	if err != nil {
		p.log.Warn("pause container failed", "container", c.ID(), "err", err)
		p.mu.Lock()
		p.removeLocked(c, "pause failed")
		p.wakeNextLocked()
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	if c.active == 0 && !c.dead && p.opts.IdleTTL > 0 {
		ttl := p.opts.IdleTTL - p.opts.PauseGrace
		c.timer = time.AfterFunc(max(ttl, time.Millisecond), func() { p.expireIdle(c) })
	}
	p.mu.Unlock()
}

func (p *Pool) expireIdle(c *container) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.dead || c.active > 0 {
		return
	}
	p.removeLocked(c, "idle")
	p.wakeNextLocked()
}

func (c *container) stopTimer() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// removeLocked takes c out of the pool, frees its memory and destroys it in
// the background.
func (p *Pool) removeLocked(c *container, why string) {
	if !p.forgetLocked(c) || c.Container == nil {
		return
	}
	p.log.Debug("container removed", "container", c.ID(), "reason", why)
	p.destroyLocked(c)
}

// destroyLocked destroys c in the background.
func (p *Pool) destroyLocked(c *container) {
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		p.destroy(c)
	}()
}

// forgetLocked takes c out of the pool's bookkeeping and frees its memory;
// it reports false if c was already gone.
func (p *Pool) forgetLocked(c *container) bool {
	if c.dead {
		return false
	}
	c.dead = true
	c.stopTimer()
	c.signalReadyLocked()
	p.usedMB -= c.memMB
	if c.key != "" {
		p.warm[c.key] = without(p.warm[c.key], c)
		if len(p.warm[c.key]) == 0 {
			delete(p.warm, c.key)
		}
		// Its line, if any, may need a new container: it asks for one
		// in turn, when memory next frees (the callers wake the pool).
		if l := p.lines[c.key]; l != nil && len(l.waiters) > 0 && !l.inRoomLine {
			l.inRoomLine = true
			p.roomLine = append(p.roomLine, c.key)
		}
		p.tidyLocked(c.key)
	}
	return true
}

func (p *Pool) destroy(c *container) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Destroy(ctx); err != nil {
		p.log.Warn("destroy container failed", "container", c.ID(), "err", err)
	}
}

func without(cs []*container, c *container) []*container {
	out := cs[:0]
	for _, x := range cs {
		if x != c {
			out = append(out, x)
		}
	}
	return out
}
