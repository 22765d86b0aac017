package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/openid"
	"github.com/wxid/wxid/ent/predicate"
	entsession "github.com/wxid/wxid/ent/session"
	"github.com/wxid/wxid/internal/colvalue"
)

// Record is a session row as the Store reads and writes it.
type Record struct {
	// ID is the row's ID.
	ID int
	// UserID is the user the session belongs to.
	UserID int
	// OpenIDID is the OpenID row the session was issued for.
	OpenIDID int
	// AppID and OpenID are that OpenID row's account; set by the reads
	// that say so (Lock, FindWithAccount, Account).
	AppID, OpenID string
	// TokenHash is the SHA-256 (Hash) of the skey, in lowercase hex;
	// the table holds its 32 bytes.
	TokenHash string
	// Family is shared by every session rotated from one login, in
	// lowercase hex; the table holds its 16 bytes.
	Family string
	// CreatedAt is when the skey was issued.
	CreatedAt time.Time
	// ExpiresAt is the idle expiry; a rotated session's is cut to the
	// grace window.
	ExpiresAt time.Time
	// AbsoluteExpiresAt is the end of the login.
	AbsoluteExpiresAt time.Time
	// LastRefreshedAt is set on a session created by a rotation.
	LastRefreshedAt *time.Time
	// RotatedAt is set once the session has a successor.
	RotatedAt *time.Time
	// RevokedAt is set once the session is revoked.
	RevokedAt *time.Time
	// SuccessorToken is the successor's skey, sealed under this skey's
	// hash. Never serialised.
	SuccessorToken []byte `json:"-"`
}

// Live reports whether the session authenticates at now: not revoked and
// not past its idle expiry (a rotated session lives out its grace window).
func (r *Record) Live(now time.Time) bool {
	return r.RevokedAt == nil && now.Before(r.ExpiresAt)
}

// Info is what the cache and the callers know of the live session r.
func (r *Record) Info() Info {
	return Info{ID: r.ID, UserID: r.UserID, OpenIDID: r.OpenIDID,
		AppID: r.AppID, OpenID: r.OpenID,
		ExpiresAt: r.ExpiresAt.UTC(), AbsoluteExpiresAt: r.AbsoluteExpiresAt.UTC()}
}

func recordOf(row *ent.Session) *Record {
	r := &Record{
		ID: row.ID, UserID: row.UserID, OpenIDID: row.OpenIDID,
		TokenHash: hex.EncodeToString(row.TokenHash), Family: hex.EncodeToString(row.Family),
		CreatedAt: row.CreatedAt.UTC(), ExpiresAt: row.ExpiresAt.UTC(), AbsoluteExpiresAt: row.AbsoluteExpiresAt.UTC(),
		LastRefreshedAt: utc(row.LastRefreshedAt), RotatedAt: utc(row.RotatedAt), RevokedAt: utc(row.RevokedAt),
		SuccessorToken: row.SuccessorToken,
	}
	if oid := row.Edges.OpenID; oid != nil {
		r.AppID, r.OpenID = oid.Appid, oid.Openid
	}
	if colvalue.Has(row, accountAppColumn) {
		r.AppID, r.OpenID = colvalue.String(row, accountAppColumn), colvalue.String(row, accountOpenIDColumn)
	}
	return r
}

// unhex is the binary form of a hex skey hash or family, as the table
// stores it. The Manager only passes what Hash and newFamily made; anything
// else decodes to bytes no row holds.
func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Revoked is what a revocation ended.
type Revoked struct {
	// N is how many sessions it revoked (a concurrent revocation may
	// have taken some of Hashes).
	N int
	// Hashes are the skey hashes of the sessions that were live: their
	// cache entries must go.
	Hashes []string
	// Until is the latest absolute expiry among them: their cache
	// tombstones matter until then.
	Until time.Time
}

// Store persists sessions: every read and write of the session table is
// here, and the Manager above it decides what they mean (liveness,
// rotation, grace, the cache). A Store from Transact runs inside one
// transaction. It is safe for concurrent use.
type Store struct {
	db       *ent.Client
	tx       *ent.Tx // the transaction the Store runs in; nil outside one
	rowLocks bool
}

// NewStore returns a Store over db. rowLocks makes Lock lock the row
// (SELECT ... FOR UPDATE): set it on MySQL, where every connection runs at
// READ COMMITTED (package database). SQLite has no row locks, and wxid opens SQLite
// transactions with BEGIN IMMEDIATE, which serialises them instead.
func NewStore(db *ent.Client, rowLocks bool) *Store {
	return &Store{db: db, rowLocks: rowLocks}
}

// in is the Store inside a caller's transaction tx.
func (s *Store) in(tx *ent.Tx) *Store { return &Store{db: tx.Client(), tx: tx, rowLocks: s.rowLocks} }

// Tx is the transaction a Store from Transact runs in, for writes of
// other packages that must commit with it (an audit event); nil outside a
// transaction.
func (s *Store) Tx() *ent.Tx { return s.tx }

// Create inserts r, a new session issued to meta's client, and sets r.ID.
func (s *Store) Create(ctx context.Context, r *Record, meta ClientMeta) error {
	hash, family := unhex(r.TokenHash), unhex(r.Family)
	if len(hash) != sha256.Size || len(family) != familyBytes {
		return fmt.Errorf("creating session: the token hash must be %d hex-encoded bytes and the family %d", sha256.Size, familyBytes)
	}
	row, err := s.db.Session.Create().
		SetUserID(r.UserID).
		SetOpenIDID(r.OpenIDID).
		SetTokenHash(hash).
		SetFamily(family).
		SetCreatedAt(r.CreatedAt).
		SetExpiresAt(r.ExpiresAt).
		SetAbsoluteExpiresAt(r.AbsoluteExpiresAt).
		SetNillableLastRefreshedAt(r.LastRefreshedAt).
		SetClientIP(truncate(meta.IP, 64)).
		SetUserAgent(truncate(meta.UserAgent, 512)).
		Save(ctx)
	if err != nil {
		return fmt.Errorf("creating session: %w", err)
	}
	r.ID = row.ID
	return nil
}

// chainedCreate is the INSERT of r that writes the row only if the
// statement before it in its batch wrote (wrote, database.Batch): 0 rows
// otherwise. The statements before it must have checked, and locked until
// the transaction ends, what the session depends on (a login's UPDATEs of
// the OpenID row and of the user: package identity).
func chainedCreate(r *Record, meta ClientMeta, constants, wrote string) (string, []any) {
	q := "INSERT INTO `sessions` (`user_id`, `open_id_id`, `token_hash`, `family`, `created_at`, `expires_at`, `absolute_expires_at`, `last_refreshed_at`, `client_ip`, `user_agent`) " +
		"SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? " + constants + " WHERE " + wrote
	var refreshed any // NULL
	if r.LastRefreshedAt != nil {
		refreshed = *r.LastRefreshedAt
	}
	return q, []any{r.UserID, r.OpenIDID, unhex(r.TokenHash), unhex(r.Family), r.CreatedAt, r.ExpiresAt, r.AbsoluteExpiresAt, refreshed,
		truncate(meta.IP, 64), truncate(meta.UserAgent, 512)}
}

// Find returns the session of an skey hash, without its account;
// ErrInvalid when there is none.
func (s *Store) Find(ctx context.Context, hash string) (*Record, error) {
	return s.find(ctx, s.db.Session.Query().Where(entsession.TokenHash(unhex(hash))))
}

// FindWithAccount is Find with the session's AppID and OpenID.
func (s *Store) FindWithAccount(ctx context.Context, hash string) (*Record, error) {
	return s.find(ctx, s.db.Session.Query().Where(entsession.TokenHash(unhex(hash)), joinAccount))
}

// Lock is FindWithAccount that also locks the row until the transaction
// ends, where the database has row locks; use it inside Transact.
func (s *Store) Lock(ctx context.Context, hash string) (*Record, error) {
	q := s.db.Session.Query().Where(entsession.TokenHash(unhex(hash)), joinAccount)
	if s.rowLocks {
		q = q.ForUpdate()
	}
	return s.find(ctx, q)
}

// Columns joinAccount adds beside the session's own.
const (
	accountAppColumn    = "wxid_account_appid"
	accountOpenIDColumn = "wxid_account_openid"
)

// joinAccount reads the session's account (its OpenID row's appid and
// openid, not the sealed session_key) in the session's own statement.
func joinAccount(sel *sql.Selector) {
	t := sql.Table(openid.Table).As("wxid_a")
	sel.Join(t).On(sel.C(entsession.FieldOpenIDID), t.C(openid.FieldID))
	sel.AppendSelect(sql.As(t.C(openid.FieldAppid), accountAppColumn), sql.As(t.C(openid.FieldOpenid), accountOpenIDColumn))
}

// Get returns the session with the row ID id; ErrInvalid when there is
// none.
func (s *Store) Get(ctx context.Context, id int) (*Record, error) {
	return s.find(ctx, s.db.Session.Query().Where(entsession.ID(id)))
}

func (s *Store) find(ctx context.Context, q *ent.SessionQuery) (*Record, error) {
	row, err := q.Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return nil, ErrInvalid
	case err != nil:
		return nil, fmt.Errorf("reading session: %w", err)
	}
	return recordOf(row), nil
}

// Account sets r's AppID and OpenID from its OpenID row.
func (s *Store) Account(ctx context.Context, r *Record) error {
	oid, err := s.db.OpenID.Query().
		Where(openid.ID(r.OpenIDID)).
		Select(openid.FieldAppid, openid.FieldOpenid).
		Only(ctx)
	if err != nil {
		return fmt.Errorf("reading session's openid: %w", err)
	}
	r.AppID, r.OpenID = oid.Appid, oid.Openid
	return nil
}

// MarkRotated records that the session id has the successor sealed in
// successor: rotated at at, and expiring at expiresAt (its grace window).
func (s *Store) MarkRotated(ctx context.Context, id int, at, expiresAt time.Time, successor []byte) error {
	// Update, not UpdateOne: UpdateOne reads the row back.
	_, err := s.db.Session.Update().
		Where(entsession.ID(id)).
		SetRotatedAt(at).
		SetExpiresAt(expiresAt).
		SetSuccessorToken(successor).
		Save(ctx)
	if err != nil {
		return fmt.Errorf("rotating session: %w", err)
	}
	return nil
}

// RevokeFamily revokes the sessions of one login of userID that are live
// at now.
func (s *Store) RevokeFamily(ctx context.Context, userID int, family string, now time.Time) (Revoked, error) {
	return s.revokeWhere(ctx, entsession.And(entsession.UserID(userID), entsession.Family(unhex(family))), now)
}

// RevokeSession revokes the session id of userID, with every session of
// its login (family), when it is live at now. A session of another user
// revokes nothing, exactly as an unknown ID.
func (s *Store) RevokeSession(ctx context.Context, userID, id int, now time.Time) (Revoked, error) {
	row, err := s.db.Session.Query().
		Where(entsession.ID(id), entsession.UserID(userID), live(now)).
		Select(entsession.FieldFamily).
		Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return Revoked{}, nil
	case err != nil:
		return Revoked{}, fmt.Errorf("reading session: %w", err)
	}
	return s.revokeWhere(ctx, entsession.And(entsession.Family(row.Family), entsession.UserID(userID)), now)
}

// ForgetClients clears the client IP and user agent of every session of a
// user, live or not.
func (s *Store) ForgetClients(ctx context.Context, userID int) error {
	err := s.db.Session.Update().
		Where(entsession.UserID(userID)).
		ClearClientIP().
		ClearUserAgent().
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("forgetting sessions' clients: %w", err)
	}
	return nil
}

// RevokeUser revokes every session of a user that is live at now.
func (s *Store) RevokeUser(ctx context.Context, userID int, now time.Time) (Revoked, error) {
	return s.revokeWhere(ctx, entsession.UserID(userID), now)
}

// live selects the sessions Record.Live accepts at now.
func live(now time.Time) predicate.Session {
	return entsession.And(entsession.RevokedAtIsNil(), entsession.ExpiresAtGT(now))
}

func (s *Store) revokeWhere(ctx context.Context, p predicate.Session, now time.Time) (Revoked, error) {
	rows, err := s.db.Session.Query().
		Where(p, live(now)).
		Select(entsession.FieldID, entsession.FieldTokenHash, entsession.FieldAbsoluteExpiresAt).
		All(ctx)
	if err != nil {
		return Revoked{}, fmt.Errorf("listing sessions to revoke: %w", err)
	}
	if len(rows) == 0 {
		return Revoked{}, nil
	}
	ids := make([]int, len(rows))
	out := Revoked{Hashes: make([]string, len(rows)), Until: now}
	for i, r := range rows {
		ids[i], out.Hashes[i] = r.ID, hex.EncodeToString(r.TokenHash)
		if r.AbsoluteExpiresAt.After(out.Until) {
			out.Until = r.AbsoluteExpiresAt.UTC()
		}
	}
	out.N, err = s.db.Session.Update().
		Where(entsession.IDIn(ids...), entsession.RevokedAtIsNil()).
		SetRevokedAt(now).
		Save(ctx)
	if err != nil {
		return Revoked{}, fmt.Errorf("revoking sessions: %w", err)
	}
	return out, nil
}

// Active lists a user's sessions live at now and not rotated, newest
// first.
func (s *Store) Active(ctx context.Context, userID int, now time.Time) ([]*ent.Session, error) {
	rows, err := s.db.Session.Query().
		Where(entsession.UserID(userID), live(now), entsession.RotatedAtIsNil()).
		Order(ent.Desc(entsession.FieldCreatedAt), ent.Desc(entsession.FieldID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	return rows, nil
}

// ActiveOf is Active for several users in one statement: each user's
// sessions that work at now, newest first.
func (s *Store) ActiveOf(ctx context.Context, userIDs []int, now time.Time) (map[int][]*ent.Session, error) {
	rows, err := s.db.Session.Query().
		Where(entsession.UserIDIn(userIDs...), live(now), entsession.RotatedAtIsNil()).
		Order(ent.Desc(entsession.FieldCreatedAt), ent.Desc(entsession.FieldID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	out := make(map[int][]*ent.Session, len(userIDs))
	for _, r := range rows {
		out[r.UserID] = append(out[r.UserID], r)
	}
	return out, nil
}

// OfUser lists every session of a user still stored, live or not, oldest
// first.
func (s *Store) OfUser(ctx context.Context, userID int) ([]*ent.Session, error) {
	rows, err := s.db.Session.Query().
		Where(entsession.UserID(userID)).
		Order(ent.Asc(entsession.FieldCreatedAt), ent.Asc(entsession.FieldID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	return rows, nil
}

// Revocation is one revoked session, as the revocation feed reads it.
type Revocation struct {
	// Hash is the skey hash of the revoked session.
	Hash string
	// At is when it was revoked.
	At time.Time
}

// RevokedSince lists the sessions revoked at or after from (an index range
// scan on revoked_at).
func (s *Store) RevokedSince(ctx context.Context, from time.Time) ([]Revocation, error) {
	rows, err := s.db.Session.Query().
		Where(entsession.RevokedAtGTE(from)).
		Select(entsession.FieldTokenHash, entsession.FieldRevokedAt).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("polling revocations: %w", err)
	}
	out := make([]Revocation, 0, len(rows))
	for _, r := range rows {
		if r.RevokedAt != nil {
			out = append(out, Revocation{Hash: hex.EncodeToString(r.TokenHash), At: r.RevokedAt.UTC()})
		}
	}
	return out, nil
}

// List returns the sessions with the row IDs ids that exist, in no
// particular order.
func (s *Store) List(ctx context.Context, ids []int) ([]*ent.Session, error) {
	rows, err := s.db.Session.Query().Where(entsession.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading sessions: %w", err)
	}
	return rows, nil
}

// PurgeBatch deletes up to limit sessions that expired or were revoked
// before cutoff and returns how many it deleted. Each condition is read on
// its own index (expires_at, then revoked_at, oldest first) rather than
// their OR, which no index serves (a scan of the whole table per batch).
func (s *Store) PurgeBatch(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	ids, err := s.db.Session.Query().
		Where(entsession.ExpiresAtLT(cutoff)).
		Order(entsession.ByExpiresAt()).
		Limit(limit).
		IDs(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing expired sessions: %w", err)
	}
	if len(ids) < limit {
		revoked, err := s.db.Session.Query().
			Where(entsession.RevokedAtLT(cutoff), entsession.ExpiresAtGTE(cutoff)).
			Order(entsession.ByRevokedAt()).
			Limit(limit - len(ids)).
			IDs(ctx)
		if err != nil {
			return 0, fmt.Errorf("listing revoked sessions: %w", err)
		}
		ids = append(ids, revoked...)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	n, err := s.db.Session.Delete().Where(entsession.IDIn(ids...)).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("purging sessions: %w", err)
	}
	return n, nil
}

// Transact runs fn with a Store inside one transaction, committing when
// fn returns nil and rolling back on an error or a panic.
func (s *Store) Transact(ctx context.Context, fn func(tx *Store) error) error {
	return database.WithTx(ctx, s.db, nil, func(tx *ent.Tx) error { return fn(s.in(tx)) })
}
