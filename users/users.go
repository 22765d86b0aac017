// Package users reads and administers wxid's users: the user of a session
// (`me`), a user's WeChat identities (openids, unionid), pages of users and
// nodes for the admin API, and disabling, enabling and signing out a user.
//
// The GraphQL layer calls one method per field and maps the result; every
// query of the user, openid and unionid tables outside login (package
// identity, which binds WeChat identities to users) and the phone number
// (package phone) is here. Sessions are the session package's: it is
// reached through the Sessions interface.
package users

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/audit"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/openid"
	"github.com/wxid/wxid/ent/unionid"
	"github.com/wxid/wxid/ent/user"
	"github.com/wxid/wxid/session"
)

// Sessions is the part of the session manager the users service needs;
// *session.Manager implements it.
type Sessions interface {
	// RevokeUserTx revokes every live session of a user inside tx.
	RevokeUserTx(ctx context.Context, tx *ent.Tx, userID int) (session.Revoked, error)
	// RevokeSessionTx revokes one live session of a user (and its
	// login's other skeys) inside tx.
	RevokeSessionTx(ctx context.Context, tx *ent.Tx, userID, id int) (session.Revoked, error)
	// EraseUserTx revokes every live session of a user inside tx and
	// clears the client IP and user agent of all of them.
	EraseUserTx(ctx context.Context, tx *ent.Tx, userID int) (session.Revoked, error)
	// OfUserTx lists every stored session of a user inside tx.
	OfUserTx(ctx context.Context, tx *ent.Tx, userID int) ([]*ent.Session, error)
	// Bury makes what a committed transaction revoked known to every
	// instance.
	Bury(ctx context.Context, rev session.Revoked)
	// Sessions returns the sessions with the row IDs ids that exist.
	Sessions(ctx context.Context, ids []int) ([]*ent.Session, error)
	// Active returns a user's sessions that still work, newest first.
	Active(ctx context.Context, userID int) ([]*ent.Session, error)
	// ActiveOf returns the sessions that still work of each of the users,
	// newest first, in one statement.
	ActiveOf(ctx context.Context, userIDs []int) (map[int][]*ent.Session, error)
}

// Service reads and administers users. It is safe for concurrent use.
type Service struct {
	db       *ent.Client
	sessions Sessions
	log      *slog.Logger
	now      func() time.Time
	rowLocks bool
	views    *Views
}

// Options configure a Service.
type Options struct {
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock of audit events; nil means time.Now.
	Now func() time.Time
	// RowLocks takes row locks (MySQL, where connections run at READ
	// COMMITTED), in the lock order of package identity.
	RowLocks bool
	// Views caches the users' views for Me, and learns of the writes
	// here; nil reads the database every time.
	Views *Views
}

// NewService returns a users service over the database; sessions ends the
// sessions of disabled and signed-out users.
func NewService(db *ent.Client, sessions Sessions, o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{db: db, sessions: sessions, log: o.Logger, now: o.Now, rowLocks: o.RowLocks, views: o.Views}
}

// Edges says which edges of a User a caller reads, so that they are loaded
// with the user (one query per edge, whatever the number of users).
type Edges struct {
	// OpenIDs loads User.openIds.
	OpenIDs bool
	// UnionID loads User.unionId.
	UnionID bool
	// ActiveSessions loads User.activeSessions of a page or a list of
	// nodes in one statement for all of its users (see ActiveSessions).
	ActiveSessions bool
}

// Merge returns the edges either e or o reads.
func (e Edges) Merge(o Edges) Edges {
	return Edges{OpenIDs: e.OpenIDs || o.OpenIDs, UnionID: e.UnionID || o.UnionID, ActiveSessions: e.ActiveSessions || o.ActiveSessions}
}

// with eager-loads the edges e names on q. OpenIDs and UnionID use loaded
// edges.
func (e Edges) with(q *ent.UserQuery) *ent.UserQuery {
	if e.OpenIDs {
		q.WithOpenIds(func(oq *ent.OpenIDQuery) { publicOpenIDs(oq) })
	}
	if e.UnionID {
		q.WithUnionID()
	}
	return q
}

// publicOpenIDs selects what the API shows of openids, oldest first: not
// the sealed session_key, which has no business outside login and phone.
func publicOpenIDs(q *ent.OpenIDQuery) *ent.OpenIDQuery {
	return q.Select(openid.FieldUserID, openid.FieldAppid, openid.FieldOpenid).Order(openid.ByID())
}

// msgGone is the answer to a session whose user was deleted or disabled.
const msgGone = "the skey's user no longer exists or is disabled"

// Me returns the user of a session. With Views, it is the user's whole
// view (every edge loaded) from the cache, or from one statement on a miss;
// without, the user with the edges e names loaded in the same statement
// (see ViewQuery). A user that no longer exists or is disabled is
// UNAUTHENTICATED: the skey no longer stands for anyone.
func (s *Service) Me(ctx context.Context, userID int, e Edges) (*ent.User, error) {
	if s.views != nil {
		u, err := s.views.Get(ctx, userID)
		return gone(u, err)
	}
	q := s.db.User.Query().Where(user.ID(userID))
	if e.UnionID {
		q.Where(joinUnionID)
	}
	if e.OpenIDs {
		q.Where(joinOpenIDs)
	}
	rows, err := q.All(ctx)
	if err != nil {
		return nil, apperr.Internal(fmt.Errorf("reading user: %w", err))
	}
	return gone(Fold(rows))
}

// gone is Me's answer for the user u read with err.
func gone(u *ent.User, err error) (*ent.User, error) {
	switch {
	case err != nil:
		return nil, apperr.Internal(err)
	case u == nil, u.Disabled:
		return nil, apperr.Unauthenticated(msgGone)
	}
	return u, nil
}

// UnionID returns u's unionid, nil when it has none: the one joined or
// loaded with u when there is one, else one query.
func (s *Service) UnionID(ctx context.Context, u *ent.User) (*string, error) {
	switch un, err := u.Edges.UnionIDOrErr(); {
	case err == nil:
		return &un.Unionid, nil
	case ent.IsNotFound(err):
		return nil, nil // loaded: the user has none
	}
	un, err := s.db.UnionID.Query().Where(unionid.UserID(u.ID)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, apperr.Internal(fmt.Errorf("reading unionid: %w", err))
	}
	return &un.Unionid, nil
}

// OpenIDs returns u's openids in the order they were first seen: the
// loaded edge when there is one, else one query.
func (s *Service) OpenIDs(ctx context.Context, u *ent.User) ([]*ent.OpenID, error) {
	if ids, err := u.Edges.OpenIdsOrErr(); err == nil {
		return ids, nil
	}
	ids, err := publicOpenIDs(s.db.OpenID.Query().Where(openid.UserID(u.ID))).All(ctx)
	if err != nil {
		return nil, apperr.Internal(fmt.Errorf("reading openids: %w", err))
	}
	return ids, nil
}

// SetDisabled disables or re-enables a user, recording USER_DISABLED or
// USER_ENABLED. Disabling also revokes every session of the user, so its
// skeys stop working at once.
func (s *Service) SetDisabled(ctx context.Context, userID int, disabled bool) (*ent.User, error) {
	var (
		u   *ent.User
		rev session.Revoked
	)
	err := s.transact(ctx, func(tx *ent.Tx) error {
		var err error
		// An erased user stays disabled: it is NOT_FOUND here.
		if u, err = tx.User.UpdateOneID(userID).Where(user.ErasedAtIsNil()).SetDisabled(disabled).SetUpdatedAt(s.now().UTC()).Save(ctx); err != nil {
			return err
		}
		ev := audit.Event{Kind: audit.UserEnabled, At: s.now(), UserID: userID}
		if disabled {
			if rev, err = s.sessions.RevokeUserTx(ctx, tx, userID); err != nil {
				return err
			}
			ev.Kind, ev.Count = audit.UserDisabled, audit.Count(rev.N)
		}
		return audit.Record(ctx, tx, ev)
	})
	switch {
	case ent.IsNotFound(err):
		return nil, apperr.NotFound("user not found")
	case err != nil:
		return nil, apperr.Internal(fmt.Errorf("updating user: %w", err))
	}
	s.sessions.Bury(ctx, rev)
	s.views.Invalidate(ctx, userID)
	s.log.InfoContext(ctx, "user disabled flag changed", "user_id", userID, "disabled", disabled)
	return u.Unwrap(), nil
}

// RevokeSessions ends every live session of a user, recording
// SESSION_REVOKED, and returns how many it ended; NOT_FOUND for an unknown
// user.
func (s *Service) RevokeSessions(ctx context.Context, userID int) (int, error) {
	var rev session.Revoked
	err := s.transact(ctx, func(tx *ent.Tx) error {
		exists, err := tx.User.Query().Where(user.ID(userID)).Exist(ctx)
		switch {
		case err != nil:
			return fmt.Errorf("reading user: %w", err)
		case !exists:
			return errNoUser
		}
		if rev, err = s.sessions.RevokeUserTx(ctx, tx, userID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Kind: audit.SessionRevoked, At: s.now(), UserID: userID, Count: audit.Count(rev.N)})
	})
	switch {
	case errors.Is(err, errNoUser):
		return 0, apperr.NotFound("user not found")
	case err != nil:
		return 0, apperr.Internal(err)
	}
	s.sessions.Bury(ctx, rev)
	return rev.N, nil
}

// errNoUser rolls back a transaction about a user that does not exist.
var errNoUser = errors.New("user not found")

// transactAttempts bounds how often transact runs a transaction that a
// deadlock or lock-wait timeout rolled back.
const transactAttempts = 5

// transact runs fn in one transaction, committing when it returns nil. A
// transaction InnoDB rolls back as a deadlock victim or after a lock wait
// timeout runs again: admin writes lock a user's rows in the order logins
// do, but a refresh racing them can still close a cycle through its
// session row.
func (s *Service) transact(ctx context.Context, fn func(tx *ent.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.transactOnce(ctx, fn)
		if err == nil || attempt == transactAttempts || !lockConflict(err) || ctx.Err() != nil {
			return err
		}
		s.log.DebugContext(ctx, "transaction lost a lock conflict; retrying", "attempt", attempt, "err", err)
	}
}

func (s *Service) transactOnce(ctx context.Context, fn func(tx *ent.Tx) error) error {
	return database.WithTx(ctx, s.db, nil, fn)
}

// lockConflict reports a MySQL deadlock (1213) or lock wait timeout (1205).
func lockConflict(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}
