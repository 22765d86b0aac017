// Package breaker is the circuit breaker wxid puts in front of the backends
// it can lose: the database and memcached. After Threshold consecutive
// failures the circuit opens and calls are refused at once for Cooldown;
// then one call goes through as a probe: its success closes the circuit,
// its failure opens it for another Cooldown. A backend that comes back is
// used again within one Cooldown, without anyone's help.
package breaker

import (
	"sync"
	"time"
)

// State is the state of a Breaker.
type State int

// States of a Breaker.
const (
	// Closed lets every call through.
	Closed State = iota
	// Open refuses calls until the cooldown has passed.
	Open
	// HalfOpen lets one probe through and refuses the others.
	HalfOpen
)

func (s State) String() string {
	switch s {
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return "closed"
}

// Options configure New.
type Options struct {
	// Threshold is the number of consecutive failures that opens the
	// circuit; 1 when zero or less.
	Threshold int
	// Cooldown is how long an open circuit refuses calls before it lets a
	// probe through; one second when zero or less.
	Cooldown time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// OnChange, when set, is called (without the breaker's lock held) on
	// every change of state.
	OnChange func(from, to State)
}

// Breaker is a circuit breaker. It is safe for concurrent use.
type Breaker struct {
	o Options

	mu       sync.Mutex
	state    State
	failures int
	until    time.Time // end of the open period
}

// New returns a closed Breaker.
func New(o Options) *Breaker {
	if o.Threshold <= 0 {
		o.Threshold = 1
	}
	if o.Cooldown <= 0 {
		o.Cooldown = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Breaker{o: o}
}

// Call is the ticket of one admitted call; report its outcome with Done.
type Call struct {
	b     *Breaker
	probe bool
}

// Allow admits a call, or refuses it while the circuit is open and says
// how long until the next probe may go (at least a millisecond). An
// admitted call must report its outcome with Done, exactly once.
func (b *Breaker) Allow() (*Call, time.Duration, bool) {
	b.mu.Lock()
	now := b.o.Now()
	switch b.state {
	case Closed:
		b.mu.Unlock()
		return &Call{b: b}, 0, true
	case Open:
		if now.Before(b.until) {
			wait := b.until.Sub(now)
			b.mu.Unlock()
			return nil, max(wait, time.Millisecond), false
		}
		b.state = HalfOpen
		b.mu.Unlock()
		b.changed(Open, HalfOpen)
		return &Call{b: b, probe: true}, 0, true
	default: // HalfOpen: a probe is out
		b.mu.Unlock()
		return nil, b.o.Cooldown, false
	}
}

// Done reports whether the admitted call failed. Only failures that say
// the backend is unreachable, hung or saturated count: a backend that
// answers "no" is working.
func (c *Call) Done(failed bool) {
	b := c.b
	b.mu.Lock()
	from := b.state
	switch {
	case c.probe && failed:
		b.state, b.until = Open, b.o.Now().Add(b.o.Cooldown)
	case c.probe:
		b.state, b.failures = Closed, 0
	case b.state != Closed:
		// A straggler admitted before the circuit opened: the probe decides.
	case failed:
		b.failures++
		if b.failures >= b.o.Threshold {
			b.state, b.until = Open, b.o.Now().Add(b.o.Cooldown)
		}
	default:
		b.failures = 0
	}
	to := b.state
	b.mu.Unlock()
	if from != to {
		b.changed(from, to)
	}
}

// State returns the current state.
func (b *Breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// Cooldown returns how long an open circuit refuses calls.
func (b *Breaker) Cooldown() time.Duration { return b.o.Cooldown }

func (b *Breaker) changed(from, to State) {
	if b.o.OnChange != nil {
		b.o.OnChange(from, to)
	}
}
