package actions

import "github.com/gusthub/gust/internal/jsonbuf"

// Bounds and defaults of action limits, OpenWhisk's except concurrency,
// whose maximum OpenWhisk leaves at 1 until an operator raises it.
const (
	MinTimeoutMS     = 100
	MaxTimeoutMS     = 300000
	DefaultTimeoutMS = 60000
	MinMemoryMB      = 128
	MaxMemoryMB      = 512
	DefaultMemoryMB  = 256
	MinLogsMB        = 0
	MaxLogsMB        = 10
	DefaultLogsMB    = 10
	MinConcurrency   = 1
	MaxConcurrency   = 500
	// MaxCodeBytes bounds an action's code, as OpenWhisk's 48 MB.
	MaxCodeBytes = 48 << 20
	// MaxParameterBytes bounds an entity's parameters.
	MaxParameterBytes = 1 << 20
	// MaxPayloadBytes bounds the body of an invoke or a trigger fire:
	// GitHub's 25 MB, the largest event a feed takes (OpenWhisk's is 1 MB).
	MaxPayloadBytes = 25 << 20
	// MaxInvocationBytes bounds the parameters one invocation carries: an
	// event's data of MaxPayloadBytes (base64 when it is binary) with its
	// trigger's parameters and its attributes.
	MaxInvocationBytes = 40 << 20
	// MaxSequenceLength bounds the atomic actions of a sequence.
	MaxSequenceLength = 50
)

// Limits are an action's resource limits.
type Limits struct {
	Timeout     int `json:"timeout"`     // milliseconds, for init and run each
	Memory      int `json:"memory"`      // MiB
	Logs        int `json:"logs"`        // MiB of log output per activation
	Concurrency int `json:"concurrency"` // activations at once in one container
}

// AppendJSON appends l as json.Marshal writes it: every activation's
// record carries its action's limits.
func (l Limits) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	dst = jsonbuf.KeyInt(dst, "timeout", int64(l.Timeout))
	dst = jsonbuf.KeyInt(dst, "memory", int64(l.Memory))
	dst = jsonbuf.KeyInt(dst, "logs", int64(l.Logs))
	dst = jsonbuf.KeyInt(dst, "concurrency", int64(l.Concurrency))
	return append(dst, '}')
}

// DefaultLimits are the limits of an action that sets none.
func DefaultLimits() Limits {
	return Limits{Timeout: DefaultTimeoutMS, Memory: DefaultMemoryMB, Logs: DefaultLogsMB, Concurrency: 1}
}

// LimitsPut is the limits object of a PUT request; absent fields keep their
// current value.
type LimitsPut struct {
	Timeout     *int `json:"timeout"`
	Memory      *int `json:"memory"`
	Logs        *int `json:"logs"`
	Concurrency *int `json:"concurrency"`
}

// Apply returns base with the fields of p set, or an *InvalidError naming the
// limit that is out of range.
func (p *LimitsPut) Apply(base Limits) (Limits, error) {
	if p == nil {
		return base, nil
	}
	l := base
	if p.Timeout != nil {
		l.Timeout = *p.Timeout
	}
	if p.Memory != nil {
		l.Memory = *p.Memory
	}
	if p.Logs != nil {
		l.Logs = *p.Logs
	}
	if p.Concurrency != nil {
		l.Concurrency = *p.Concurrency
	}
	return l, l.Validate()
}

// Validate checks every limit against its bounds.
func (l Limits) Validate() error {
	switch {
	case l.Timeout < MinTimeoutMS || l.Timeout > MaxTimeoutMS:
		return Invalidf("The request content was malformed:\nrequirement failed: timeout %d ms below allowed threshold of %d ms or above allowed threshold of %d ms", l.Timeout, MinTimeoutMS, MaxTimeoutMS)
	case l.Memory < MinMemoryMB || l.Memory > MaxMemoryMB:
		return Invalidf("The request content was malformed:\nrequirement failed: memory %d MB below allowed threshold of %d MB or above allowed threshold of %d MB", l.Memory, MinMemoryMB, MaxMemoryMB)
	case l.Logs < MinLogsMB || l.Logs > MaxLogsMB:
		return Invalidf("The request content was malformed:\nrequirement failed: log size %d MB below allowed threshold of %d MB or above allowed threshold of %d MB", l.Logs, MinLogsMB, MaxLogsMB)
	case l.Concurrency < MinConcurrency || l.Concurrency > MaxConcurrency:
		return Invalidf("The request content was malformed:\nrequirement failed: concurrency %d below allowed threshold of %d or above allowed threshold of %d", l.Concurrency, MinConcurrency, MaxConcurrency)
	}
	return nil
}
