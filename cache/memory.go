package cache

import (
	"context"
	"math"
	"sync"
	"time"
)

// DefaultMemoryEntries is the capacity NewMemory uses when given zero or less.
const DefaultMemoryEntries = 100_000

// sweepInterval bounds how often a full Memory evicts expired entries in one
// pass before falling back to evicting the least recently used one.
const sweepInterval = time.Second

// Memory is an in-process Cache: a size-bounded LRU map whose entries honour
// their TTL. It is safe for concurrent use. When full, inserting a new key
// first drops expired entries (at most one full pass per second) and then,
// if still full, the least recently used entry. Values are copied in and out.
type Memory struct {
	mu        sync.Mutex
	max       int
	now       func() time.Time
	items     map[string]*memEntry
	head      *memEntry // most recently used
	tail      *memEntry // least recently used
	lastSweep int64
}

type memEntry struct {
	key        string
	value      []byte
	expires    int64 // unix nanoseconds; 0 = never
	prev, next *memEntry
}

// MemoryOption configures NewMemory.
type MemoryOption func(*Memory)

// WithClock makes Memory read the time from now instead of time.Now; tests
// use it to expire entries without sleeping.
func WithClock(now func() time.Time) MemoryOption {
	return func(m *Memory) { m.now = now }
}

// NewMemory returns an empty in-process cache holding at most maxEntries
// entries (DefaultMemoryEntries when maxEntries <= 0).
func NewMemory(maxEntries int, opts ...MemoryOption) *Memory {
	if maxEntries <= 0 {
		maxEntries = DefaultMemoryEntries
	}
	m := &Memory{
		max:   maxEntries,
		now:   time.Now,
		items: make(map[string]*memEntry, min(maxEntries, 1024)),
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Get implements Cache.
func (m *Memory) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(ctx, key); err != nil {
		return nil, err
	}
	now := m.now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.items[key]
	if !ok {
		return nil, ErrCacheMiss
	}
	if e.expired(now) {
		m.remove(e)
		return nil, ErrCacheMiss
	}
	m.moveToFront(e)
	return append([]byte(nil), e.value...), nil
}

// Set implements Cache.
func (m *Memory) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkArgs(ctx, key, ttl); err != nil {
		return err
	}
	m.store(key, value, ttl, false)
	return nil
}

// Add implements Cache.
func (m *Memory) Add(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkArgs(ctx, key, ttl); err != nil {
		return err
	}
	if !m.store(key, value, ttl, true) {
		return ErrNotStored
	}
	return nil
}

// Delete implements Cache.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := checkKey(ctx, key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.items[key]; ok {
		m.remove(e)
	}
	return nil
}

// Ping implements Cache; an in-process cache is always reachable.
func (m *Memory) Ping(ctx context.Context) error {
	return ctx.Err()
}

// Len returns the number of entries held, expired ones not yet dropped
// included.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

// store writes key; with onlyIfAbsent it leaves a live entry alone and
// reports false.
func (m *Memory) store(key string, value []byte, ttl time.Duration, onlyIfAbsent bool) bool {
	now := m.now().UnixNano()
	expires := expiresAt(now, ttl)

	m.mu.Lock()
	defer m.mu.Unlock()
	return m.storeLocked(now, key, value, expires, onlyIfAbsent)
}

// storeLocked is store with m.mu held and the expiry computed.
func (m *Memory) storeLocked(now int64, key string, value []byte, expires int64, onlyIfAbsent bool) bool {
	e, ok := m.items[key]
	switch {
	case ok && onlyIfAbsent && !e.expired(now):
		return false
	case ok:
		m.moveToFront(e)
	default:
		e = m.newEntry(now)
		e.key = key
		m.items[key] = e
		m.pushFront(e)
	}
	// Reusing the backing array is safe (Get hands out copies) unless it
	// would pin much more memory than the new value needs.
	if c := cap(e.value); c > 4096 && c > 2*len(value) {
		e.value = nil
	}
	e.value = append(e.value[:0], value...)
	e.expires = expires
	return true
}

// newEntry returns an unlinked entry, making room first when the cache is
// full; it recycles the evicted entry to spare an allocation.
func (m *Memory) newEntry(now int64) *memEntry {
	if len(m.items) < m.max {
		return new(memEntry)
	}
	if now-m.lastSweep >= int64(sweepInterval) {
		m.lastSweep = now
		for e := m.tail; e != nil; {
			prev := e.prev
			if e.expired(now) {
				m.remove(e)
			}
			e = prev
		}
		if len(m.items) < m.max {
			return new(memEntry)
		}
	}
	e := m.tail
	m.remove(e)
	*e = memEntry{value: e.value[:0]}
	return e
}

func (e *memEntry) expired(now int64) bool {
	return e.expires != 0 && now >= e.expires
}

func (m *Memory) remove(e *memEntry) {
	delete(m.items, e.key)
	m.unlink(e)
}

func (m *Memory) unlink(e *memEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		m.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		m.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (m *Memory) pushFront(e *memEntry) {
	e.next = m.head
	if m.head != nil {
		m.head.prev = e
	}
	m.head = e
	if m.tail == nil {
		m.tail = e
	}
}

func (m *Memory) moveToFront(e *memEntry) {
	if m.head == e {
		return
	}
	m.unlink(e)
	m.pushFront(e)
}

// expiresAt is the expiry of an entry stored at now with ttl; 0 = never.
func expiresAt(now int64, ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	expires := now + int64(ttl)
	if expires < now { // overflow: as good as never
		return math.MaxInt64
	}
	return expires
}
