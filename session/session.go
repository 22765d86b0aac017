package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wxid/wxid/cache"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/sealer"
)

// ErrInvalid is returned for an skey that is malformed, unknown, expired,
// rotated past its grace window, or revoked. Clients log in again.
var ErrInvalid = errors.New("session: invalid or expired skey")

// Info is what wxid knows about a live skey; the cache holds one per skey.
type Info struct {
	// ID is the session row's ID.
	ID int `json:"i"`
	// UserID is the user the session belongs to.
	UserID int `json:"u"`
	// OpenIDID is the ID of the OpenID row the session was issued for.
	OpenIDID int `json:"o"`
	// AppID is the mini-program the session belongs to; always set.
	AppID string `json:"a"`
	// OpenID is the user's openid in that app; always set.
	OpenID string `json:"p"`
	// ExpiresAt is the idle expiry of the skey.
	ExpiresAt time.Time `json:"e"`
	// AbsoluteExpiresAt is the end of the login the skey belongs to.
	AbsoluteExpiresAt time.Time `json:"x"`
}

// ClientMeta describes the client a session was issued to.
type ClientMeta struct {
	// IP is the client's address.
	IP string
	// UserAgent is the client's User-Agent header.
	UserAgent string
}

// Options configure a Manager.
type Options struct {
	// TTL is the idle lifetime of an skey (WXID_SESSION_TTL).
	TTL time.Duration
	// MaxAge is the absolute lifetime of a login (WXID_SESSION_MAX_AGE).
	MaxAge time.Duration
	// Grace is how long a rotated skey keeps working (WXID_REFRESH_GRACE).
	Grace time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives warnings; nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics; nil means none.
	Registerer prometheus.Registerer
	// Keys mint and verify skeys and authenticate cache entries; required.
	Keys *Keys
	// RowLocks makes Refresh lock the session row (SELECT ... FOR UPDATE)
	// and run at READ COMMITTED (see NewStore). Set it on MySQL.
	RowLocks bool
}

// Manager issues and resolves sessions. It is safe for concurrent use.
type Manager struct {
	keys    *Keys
	store   *Store
	cache   cache.Cache
	sealer  *sealer.Sealer
	opts    Options
	log     *slog.Logger
	metrics *metrics
	pending *pendingInvalidations
	revoked *revocations
}

// NewManager returns a Manager over the database (through a Store), the
// cache and the sealer that protects rotated skeys at rest. It panics
// without o.Keys.
func NewManager(db *ent.Client, c cache.Cache, s *sealer.Sealer, o Options) *Manager {
	if o.Keys == nil {
		panic("session: NewManager needs Options.Keys")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Manager{
		keys:  o.Keys,
		store: NewStore(db, o.RowLocks), cache: c, sealer: s, opts: o, log: o.Logger,
		metrics: newMetrics(o.Registerer),
		pending: newPendingInvalidations(),
		revoked: newRevocations(),
	}
}

func (m *Manager) now() time.Time { return m.opts.Now().UTC() }

// Issue creates a session for a login that has just succeeded and returns
// its skey.
func (m *Manager) Issue(ctx context.Context, userID, openIDID int, appID, openID string, meta ClientMeta) (string, Info, error) {
	var is Issued
	err := m.store.Transact(ctx, func(tx *Store) error {
		var err error
		is, err = m.issue(ctx, tx, userID, openIDID, appID, openID, meta)
		return err
	})
	if err != nil {
		return "", Info{}, err
	}
	m.Publish(ctx, is)
	return is.Skey, is.Info, nil
}

// Issued is a session created inside a caller's transaction; Publish makes
// it known to the cache once that transaction has committed.
type Issued struct {
	// Skey is the new session token. Never log it.
	Skey string `json:"-"`
	// Info describes the session.
	Info Info
}

// IssueTx creates a session inside tx, the login's own transaction, so that
// the session row is written under the locks the login already holds (the
// user's row, then its OpenID row: see the identity package's lock order).
// Call Publish after tx commits.
func (m *Manager) IssueTx(ctx context.Context, tx *ent.Tx, userID, openIDID int, appID, openID string, meta ClientMeta) (Issued, error) {
	return m.issue(ctx, m.store.in(tx), userID, openIDID, appID, openID, meta)
}

func (m *Manager) issue(ctx context.Context, st *Store, userID, openIDID int, appID, openID string, meta ClientMeta) (Issued, error) {
	p, err := m.Prepare(userID, openIDID, appID, openID, meta)
	if err != nil {
		return Issued{}, err
	}
	if err := st.Create(ctx, p.r, meta); err != nil {
		return Issued{}, err
	}
	return p.Issued(p.r.ID), nil
}

// Pending is a new session not yet written: a login that batches its
// writes (database.Batch) adds its chained INSERT (AddTo) and turns it into
// an Issued session once the batch ran.
type Pending struct {
	skey string
	r    *Record
	meta ClientMeta
}

// Prepare draws a new skey for userID's OpenID row openIDID, without
// writing anything.
func (m *Manager) Prepare(userID, openIDID int, appID, openID string, meta ClientMeta) (*Pending, error) {
	skey, err := m.keys.NewToken()
	if err != nil {
		return nil, err
	}
	now := m.now()
	abs := now.Add(m.opts.MaxAge)
	r := &Record{UserID: userID, OpenIDID: openIDID, AppID: appID, OpenID: openID,
		TokenHash: Hash(skey), Family: newFamily(),
		CreatedAt: now, ExpiresAt: minTime(now.Add(m.opts.TTL), abs), AbsoluteExpiresAt: abs}
	return &Pending{skey: skey, r: r, meta: meta}, nil
}

// AddTo adds the session's INSERT to b, chained: it inserts the row only
// if the statement before it in b wrote (chainedCreate). The statements
// before it must have checked and locked the OpenID row's owner and the
// user's state, as a returning login's UPDATEs do (package identity). Make
// it b's last statement: b's result then says whether the session was
// issued (1 row) and under which ID.
func (p *Pending) AddTo(b *database.Batch) {
	q, args := chainedCreate(p.r, p.meta, b.Constants(), b.Wrote())
	b.Add(q, args...)
}

// Issued is the session once its row has the ID id; call Publish after
// the transaction commits.
func (p *Pending) Issued(id int) Issued {
	p.r.ID = id
	return Issued{Skey: p.skey, Info: p.r.Info()}
}

// Publish caches a session that IssueTx created, once its transaction has
// committed. A failure only costs a database read later.
func (m *Manager) Publish(ctx context.Context, is Issued) {
	_ = m.cacheInfo(ctx, Hash(is.Skey), is.Info, false)
	m.metrics.issued.Inc()
}

// Resolve returns the live session of an skey: the cache first, the
// database on a miss or a cache failure. It returns ErrInvalid for anything
// but a live skey.
func (m *Manager) Resolve(ctx context.Context, skey string) (Info, error) {
	if !m.keys.Verify(skey) {
		// Not an skey wxid issued: refused without a lookup.
		m.metrics.resolved.WithLabelValues("none", "invalid").Inc()
		return Info{}, ErrInvalid
	}
	hash := Hash(skey)
	key := CacheKey(hash)
	now := m.now()
	b, err := m.cache.Get(ctx, key)
	switch {
	case err == nil:
		info, state := m.keys.openEntry(key, b)
		if state == entryInvalid {
			// Forged, damaged, or copied from another key: the database
			// decides. Deleting it lets the next request refill the cache.
			m.log.WarnContext(ctx, "session cache entry failed authentication; reading the database")
			m.metrics.resolved.WithLabelValues("cache", "forged").Inc()
			_ = m.cache.Delete(ctx, key)
			break
		}
		if state == entryIsDead || !now.Before(info.ExpiresAt) {
			// A tombstone, or an entry past the skey's life: the cache's
			// whole-second TTLs can keep one a moment too long.
			m.metrics.resolved.WithLabelValues("cache", "invalid").Inc()
			return Info{}, ErrInvalid
		}
		if m.pending.has(hash) || m.revoked.has(hash) {
			// Revoked while the cache was unreachable (here, or on another
			// instance: the revocation feed); the tombstone is still to be
			// written, or was overwritten by a replayed entry.
			m.metrics.resolved.WithLabelValues("cache", "invalid").Inc()
			return Info{}, ErrInvalid
		}
		m.metrics.resolved.WithLabelValues("cache", "ok").Inc()
		return info, nil
	case errors.Is(err, cache.ErrCacheMiss):
	default:
		if ctx.Err() != nil {
			return Info{}, ctx.Err()
		}
		// The cache wrapper logs and counts the failure itself.
		m.log.DebugContext(ctx, "session cache unavailable; reading the database", "err", err)
	}
	info, err := m.load(ctx, hash, now)
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			m.metrics.resolved.WithLabelValues("db", "invalid").Inc()
			// Remember the verdict for a while: clients keep retrying with
			// an skey that expired, and each retry would read the database.
			// Add never hides a live entry, and a dead skey never lives again.
			_ = m.cache.Add(ctx, key, m.keys.tombstone(key), negativeTTL)
		}
		return Info{}, err
	}
	m.metrics.resolved.WithLabelValues("db", "ok").Inc()
	_ = m.cacheInfo(ctx, hash, info, true)
	return info, nil
}

// load reads a live session from the database: the session row, then,
// only for a live one, its account.
func (m *Manager) load(ctx context.Context, hash string, now time.Time) (Info, error) {
	r, err := m.store.Find(ctx, hash)
	if err != nil {
		return Info{}, err
	}
	if !r.Live(now) {
		return Info{}, ErrInvalid
	}
	if err := m.store.Account(ctx, r); err != nil {
		return Info{}, err
	}
	return r.Info(), nil
}

// cacheInfo caches info under the skey hash until the skey expires. With
// refill it uses Add, so it never overwrites a newer entry or a tombstone.
// It logs failures and reports them.
func (m *Manager) cacheInfo(ctx context.Context, hash string, info Info, refill bool) error {
	ttl := info.ExpiresAt.Sub(m.now())
	if ttl <= 0 {
		return nil
	}
	key := CacheKey(hash)
	b, err := m.keys.sealEntry(key, info)
	if err != nil {
		m.log.ErrorContext(ctx, "encoding session cache entry", "err", err)
		return err
	}
	if refill {
		err = m.cache.Add(ctx, key, b, ttl)
		if errors.Is(err, cache.ErrNotStored) {
			err = nil
		}
	} else {
		err = m.cache.Set(ctx, key, b, ttl)
	}
	if err != nil && ctx.Err() == nil {
		m.log.WarnContext(ctx, "caching session failed", "err", err)
	}
	return err
}

// negativeTTL is how long the cache remembers that an skey is dead after
// the database said so.
const negativeTTL = 5 * time.Minute

// bury replaces the cache entries of dead skeys with tombstones. A failed
// write is queued and retried, so that an entry cached before the
// revocation cannot resurrect the skey once the cache is reachable again.
func (m *Manager) bury(ctx context.Context, hashes []string, until time.Time) {
	ttl := until.Sub(m.now()) + time.Minute
	for _, h := range hashes {
		m.revoked.add(h, m.entryLifeAfter(m.now()))
		key := CacheKey(h)
		if err := m.cache.Set(context.WithoutCancel(ctx), key, m.keys.tombstone(key), ttl); err != nil {
			m.log.WarnContext(ctx, "cache unreachable while revoking a session; will retry", "err", err)
			m.pending.add(h, m.now().Add(ttl))
		}
	}
}

// familyBytes is the size of a family: random, like the skey, but only
// compared, never guessed against.
const familyBytes = 16

func newFamily() string {
	b := make([]byte, familyBytes)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return hex.EncodeToString(b)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so MySQL's utf8mb4 column accepts it.
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
