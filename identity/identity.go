// Package identity registers and finds users: login binds a WeChat
// identity (appid, openid, unionid) to exactly one wxid user.
//
// Binding rules: a known (appid, openid) means its user; else a known
// unionid means that user, and the new openid joins it; else a new user.
// Concurrent first logins of one person race on the unique keys of OpenID
// and UnionID; the losers roll back, retry and find the winner's user, so
// exactly one user exists and exactly one login reports it new.
//
// # Lock order
//
// A login runs in one transaction that ends with the new session's INSERT.
// Every transaction that writes these tables takes its row locks in one
// order, so crowds of logins of one person, and refreshes racing them,
// queue instead of deadlocking:
//
//  1. the reads that find the user's view (the user with its unionid and
//     openids, by openid, then by unionid) take no lock;
//  2. the OpenID row: the UPDATE that stores the newest session_key (or the
//     INSERT of a new one);
//  3. the user's row: the UPDATE of last_login_at, which only matches a
//     user that is not disabled, so a disable that committed meanwhile
//     fails the login;
//  4. the session row: its INSERT's foreign key checks take shared locks on
//     the OpenID row and then the user's row, rows the login already holds.
//
// On MySQL a returning login takes the locks of 2 and 3 in one multi-table
// UPDATE, written as a STRAIGHT_JOIN from the OpenID row to the user's, so
// that it reads and locks them in that order (returningBatched).
//
// The order of 2 and 3 is the order in which InnoDB checks a session's
// foreign keys (by constraint name: sessions_open_ids_sessions before
// sessions_users_sessions). refreshSession locks its session row and then,
// through the successor's foreign keys, the OpenID row and the user's row
// in the same order, so a refresh and a login of the same user wait for
// each other instead of deadlocking (TestLoginCrowds runs both at once).
// Both run at READ COMMITTED on MySQL (every connection does: package
// database): their locking reads lock rows, not the gaps between them, so
// a refresh's lock on its session row never blocks a login's INSERT of a
// new session beside it.
//
// The daily user statistics (package stats) count a user's first login
// of a calendar day, and an app account's; the LOGIN audit event records
// both marks. The unlocked read tells a login whether it may be the first.
// A login that is not (both the user and the account logged in earlier
// that day) is final as read. One that may be has its UPDATEs of steps 2
// and 3 also require that no login of today has been recorded on the row,
// which the database checks under the row lock: when a racing login of
// today committed first, the UPDATE matches nothing, the rest of the
// login's batch writes nothing (its statements are chained: see
// returningBatched), and the login is retried as a later login of the day.
// So concurrent logins of one person count once a day, with no extra
// statement and no extra round trip.
//
// A first login has no rows to lock: it inserts the user, the unionid, the
// openid and the session, and a concurrent first login of the same person
// waits on the first unique key it shares, then fails on it and retries as
// a returning login. A login of a person known from another app inserts
// the new OpenID row, then updates the known user. Everything a login retries (a
// taken unique key, a deadlock or lock-wait timeout caused by another
// writer, a busy SQLite) is retried until the request's deadline: once
// WeChat has accepted the code it is spent, and failing would cost the
// user a new wx.login(). SQLite has no row locks; wxid opens its
// transactions with BEGIN IMMEDIATE, which serialises them.
package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/go-sql-driver/mysql"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/audit"
	"github.com/wxid/wxid/database"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/openid"
	"github.com/wxid/wxid/ent/unionid"
	"github.com/wxid/wxid/ent/user"
	"github.com/wxid/wxid/sealer"
	"github.com/wxid/wxid/session"
	"github.com/wxid/wxid/stats"
	"github.com/wxid/wxid/users"
	"github.com/wxid/wxid/wechat"
)

// Upstream is the part of the WeChat client login needs.
type Upstream interface {
	Code2Session(ctx context.Context, app wechat.App, code string) (wechat.Session, error)
}

// Apps are the configured mini-programs.
type Apps struct {
	// Default is the appid used when a login names none.
	Default string
	// Secrets maps appid to AppSecret.
	Secrets map[string]string
}

// Lookup returns the app for appID ("" = the default app).
func (a Apps) Lookup(appID string) (wechat.App, error) {
	if appID == "" {
		appID = a.Default
	}
	secret, ok := a.Secrets[appID]
	if !ok {
		return wechat.App{}, apperr.BadInput("unknown appId %q: it is not one of the configured apps", truncateForMessage(appID))
	}
	return wechat.App{AppID: appID, Secret: secret}, nil
}

// Service logs users in.
type Service struct {
	db       *ent.Client
	upstream Upstream
	apps     Apps
	sessions *session.Manager
	sealer   *sealer.Sealer
	now      func() time.Time
	log      *slog.Logger
	dialect  string
	days     *time.Location
	views    *users.Views
}

// Options configure a Service.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Dialect is the database's (dialect.MySQL or dialect.SQLite): on
	// MySQL a returning login sends its writes in one round trip
	// (database.Batch).
	Dialect string
	// Days is the time zone of the calendar days of the daily user
	// statistics (WXID_STATS_TIMEZONE); nil means stats.DefaultTimeZone.
	Days *time.Location
	// Views is told of every login's write of its user (users.Views);
	// nil is none.
	Views *users.Views
}

// NewService returns a login service.
func NewService(db *ent.Client, upstream Upstream, apps Apps, sessions *session.Manager, s *sealer.Sealer, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Days == nil {
		o.Days, _ = stats.LoadLocation(stats.DefaultTimeZone)
	}
	return &Service{db: db, upstream: upstream, apps: apps, sessions: sessions, sealer: s, now: o.Now, log: o.Logger, dialect: o.Dialect, days: o.Days, views: o.Views}
}

// LoginResult is a successful login.
type LoginResult struct {
	// Skey is the new session token. Never log it.
	Skey string `json:"-"`
	// Session describes the new session.
	Session session.Info
	// User is the logged-in user.
	User *ent.User
	// OpenID and UnionID are the caller's WeChat identities.
	OpenID, UnionID string
	// IsNewUser is true on the login that created the user.
	IsNewUser bool
}

// Login exchanges a wx.login code with WeChat, binds the identity to a user
// and issues a session.
func (s *Service) Login(ctx context.Context, appID, code string, meta session.ClientMeta) (*LoginResult, error) {
	code = strings.TrimSpace(code)
	switch {
	case code == "":
		return nil, apperr.BadInput("code must not be empty: pass the code from wx.login()")
	case !wechat.WellFormedCode(code):
		return nil, apperr.BadInput("code is malformed: pass the code from wx.login()")
	}
	app, err := s.apps.Lookup(appID)
	if err != nil {
		return nil, err
	}
	ws, err := s.upstream.Code2Session(ctx, app, code)
	if err != nil {
		return nil, fmt.Errorf("jscode2session: %w", wechat.Classified(err))
	}
	sealedKey := s.sealer.Seal([]byte(ws.SessionKey), users.SessionKeyAAD(app.AppID, ws.OpenID))

	b, err := s.bindRetrying(ctx, app.AppID, ws, sealedKey, meta)
	if err != nil {
		return nil, err
	}
	s.sessions.Publish(ctx, b.session)
	s.views.Invalidate(ctx, b.user.ID) // lastLoginAt, and maybe an openid or the unionid
	s.log.InfoContext(ctx, "login", "appid", app.AppID, "user_id", b.user.ID, "new_user", b.isNew)
	return &LoginResult{Skey: b.session.Skey, Session: b.session.Info, User: b.user, OpenID: ws.OpenID, UnionID: ws.UnionID, IsNewUser: b.isNew}, nil
}

// bindRetrying runs bind until it succeeds, fails for good, or the
// request's deadline passes. A taken unique key (another login of the same
// person won the race), a deadlock or a lock-wait timeout are retried: the
// next attempt finds what the winner created.
func (s *Service) bindRetrying(ctx context.Context, appID string, ws wechat.Session, sealedKey []byte, meta session.ClientMeta) (binding, error) {
	for attempt := 1; ; attempt++ {
		b, err := s.bind(ctx, appID, ws, sealedKey, meta)
		switch {
		case err == nil:
			return b, nil
		case errors.Is(err, errDisabled):
			return b, apperr.Forbidden("this account is disabled")
		case !retryable(err) || ctx.Err() != nil:
			return b, apperr.Internal(fmt.Errorf("binding login identity (attempt %d): %w", attempt, err))
		}
		s.log.DebugContext(ctx, "login lost a race; retrying", "attempt", attempt, "err", err)
		backoff := time.Duration(min(attempt, 6)*(1+rand.IntN(5))) * time.Millisecond
		select {
		case <-ctx.Done():
			return b, apperr.Internal(fmt.Errorf("binding login identity: %w (last: %w)", ctx.Err(), err))
		case <-time.After(backoff):
		}
	}
}

type binding struct {
	user    *ent.User
	openID  *ent.OpenID
	isNew   bool
	session session.Issued
	// unionConflict is the other user holding the unionid WeChat reported
	// (0 for none): recorded on the login's audit event.
	unionConflict int
	// at is the time of the login; firstOfDay and firstInAppOfDay say
	// whether it is the user's, and the app account's, first login of its
	// calendar day (the daily statistics).
	at                          time.Time
	firstOfDay, firstInAppOfDay bool
}

// bind finds or creates the user of a WeChat identity, records the login
// on it and creates its session, in one transaction. It reads the user's
// view (the user, its unionid and its openids) in one statement and writes
// each row once, so that the payload (user { unionId openIds }) needs no
// further read: a returning user costs 4 statements on MySQL (5 on SQLite),
// a new user at most 7.
func (s *Service) bind(ctx context.Context, appID string, ws wechat.Session, sealedKey []byte, meta session.ClientMeta) (binding, error) {
	var b binding
	err := database.WithTx(ctx, s.db, nil, func(tx *ent.Tx) error {
		// Whole seconds, as the database keeps them: the day a login counts
		// in is the day its rows and its audit event show.
		now := s.now().UTC().Truncate(time.Second)
		b.at = now
		u, err := s.view(ctx, tx, users.ByAccount(appID, ws.OpenID))
		switch {
		case err != nil:
			return fmt.Errorf("finding openid: %w", err)
		case u != nil && (ws.UnionID == "" || u.Edges.UnionID != nil):
			// The common login: nothing to look up, every write batched.
			return s.returningBatched(ctx, tx, u, appID, ws, sealedKey, meta, now, &b)
		case u != nil:
			err = s.returning(ctx, tx, u, appID, ws, sealedKey, now, &b)
		default:
			err = s.first(ctx, tx, appID, ws, sealedKey, now, &b)
		}
		if err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, b.event(appID)); err != nil { // audit: the login's one INSERT
			return err
		}
		b.session, err = s.sessions.IssueTx(ctx, tx, b.user.ID, b.openID.ID, appID, ws.OpenID, meta)
		return err
	})
	if err != nil {
		return b, err
	}
	b.user = b.user.Unwrap()
	return b, nil
}

// event is the login's audit event.
func (b *binding) event(appID string) audit.Event {
	return audit.Event{
		Kind: audit.Login, At: b.at, UserID: b.user.ID, Actor: audit.UserActor(b.user.ID),
		NewUser: b.isNew, OtherUserID: b.unionConflict, AppID: appID,
		FirstOfDay: b.firstOfDay, FirstInAppOfDay: b.firstInAppOfDay,
	}
}

// returningBatched records the login of a known (appid, openid) whose user
// needs no unionid attached, sending its writes in one round trip
// (database.Batch), in the lock order of the package documentation: the
// OpenID row's session_key and the user's last_login_at (addLoginUpdates),
// the audit event, then the session. The batch is a chain: each write
// after the UPDATEs happens only if the statement before it matched a row,
// and the UPDATEs match only while the OpenID row still belongs to the
// user, the user is not disabled and, for a day's first login, no other
// login of the day has been recorded. They hold both rows locked until
// the transaction ends, so the session's INSERT needs no check of its own.
// The batch's result (the last statement's) therefore tells whether the
// login raced a merge, an erasure, a disable or another first login of
// the day; the login then rolls back and retries.
func (s *Service) returningBatched(ctx context.Context, tx *ent.Tx, u *ent.User, appID string, ws wechat.Session, sealedKey []byte, meta session.ClientMeta, now time.Time, b *binding) error {
	oid, err := loginOpenID(u, appID, ws.OpenID)
	if err != nil {
		return err
	}
	if cur := u.Edges.UnionID; cur != nil && ws.UnionID != "" && cur.Unionid != ws.UnionID {
		s.log.WarnContext(ctx, "unionid conflict: the user has another; left unchanged", "user_id", u.ID)
	}
	pending, err := s.sessions.Prepare(u.ID, oid.ID, appID, ws.OpenID, meta)
	if err != nil {
		return err
	}
	// First of the day, as the unlocked read saw it, only while that
	// still holds under the row's lock (notLoggedInSince).
	b.firstInAppOfDay = stats.FirstOfDay(oid.LastLoginAt, now, s.days)
	b.firstOfDay = stats.FirstOfDay(u.LastLoginAt, now, s.days)
	batch := database.NewBatch(s.dialect)
	s.addLoginUpdates(batch, u.ID, oid.ID, ws.OpenID, sealedKey, now, b)
	audit.AddLogin(ctx, batch, audit.Event{At: now, UserID: u.ID, Actor: audit.UserActor(u.ID), AppID: appID,
		FirstOfDay: b.firstOfDay, FirstInAppOfDay: b.firstInAppOfDay})
	pending.AddTo(batch)
	res, err := batch.Exec(ctx, tx)
	if err != nil {
		return fmt.Errorf("recording login: %w", err)
	}
	issued, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("recording login: %w", err)
	}
	if issued != 1 {
		return errRaced // see returning
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("recording login: %w", err)
	}
	b.session = pending.Issued(int(id))
	u.LastLoginAt, u.UpdatedAt = &now, now
	b.user, b.openID = u, oid
	return nil
}

// addLoginUpdates adds to batch the UPDATEs of a returning login: the
// OpenID row's session_key and last_login_at (only while the row still
// belongs to the user and holds that openid), then the user's
// last_login_at and version (only while the user is not disabled), each
// with the first-of-the-day condition (notLoggedInSince) when b says the
// login may be the first. On MySQL they are one multi-table UPDATE, which
// matches both rows or neither: it locks the OpenID row, then the user's
// (STRAIGHT_JOIN keeps the package's lock order), and costs the server one
// statement instead of two. On SQLite, which updates one table at a time,
// they are two statements, the second chained to the first (Batch.Wrote).
// Either way, the statement after them matches a row only if both rows
// were updated. The user's version goes up here as ent's hook does
// (package users: the view cache).
func (s *Service) addLoginUpdates(batch *database.Batch, userID, openIDID int, openID string, sealedKey []byte, now time.Time, b *binding) {
	dayStart := stats.DayStart(now, s.days)
	if s.dialect == dialect.MySQL {
		q, args := notLoggedInSince("UPDATE `open_ids` STRAIGHT_JOIN `users` ON `users`.`id` = `open_ids`.`user_id` "+
			"SET `open_ids`.`session_key` = ?, `open_ids`.`updated_at` = ?, `open_ids`.`last_login_at` = ?, "+
			"`users`.`last_login_at` = ?, `users`.`updated_at` = ?, `users`.`version` = `users`.`version` + 1 "+
			"WHERE `open_ids`.`id` = ? AND `open_ids`.`user_id` = ? AND `open_ids`.`openid` = ? AND `users`.`id` = ? AND `users`.`disabled` = ?",
			"`open_ids`.", b.firstInAppOfDay, dayStart, sealedKey, now, now, now, now, openIDID, userID, openID, userID, false)
		q, args = notLoggedInSince(q, "`users`.", b.firstOfDay, dayStart, args...)
		batch.Add(q, args...)
		return
	}
	q, args := notLoggedInSince("UPDATE `open_ids` SET `session_key` = ?, `updated_at` = ?, `last_login_at` = ? WHERE `id` = ? AND `user_id` = ? AND `openid` = ?",
		"", b.firstInAppOfDay, dayStart, sealedKey, now, now, openIDID, userID, openID)
	batch.Add(q, args...)
	q, args = notLoggedInSince("UPDATE `users` SET `last_login_at` = ?, `updated_at` = ?, `version` = `version` + 1 WHERE `id` = ? AND `disabled` = ? AND "+batch.Wrote(),
		"", b.firstOfDay, dayStart, now, now, userID, false)
	batch.Add(q, args...)
}

// notLoggedInSince adds to the UPDATE q of a row with a last_login_at the
// condition that the row's last login is before dayStart, when first (the
// unlocked read found no login of today): the database checks it under the
// row's lock, so that of a crowd of a day's first logins one matches and
// the others match nothing, roll back and retry as later logins of the
// day. It returns q and its arguments.
// table qualifies the column ("`users`." in a multi-table UPDATE, "" for
// one table).
func notLoggedInSince(q, table string, first bool, dayStart time.Time, args ...any) (string, []any) {
	if !first {
		return q, args
	}
	return q + " AND (" + table + "`last_login_at` IS NULL OR " + table + "`last_login_at` < ?)", append(args, dayStart)
}

// loginOpenID is the OpenID row of (appID, openID) among u's; errRaced
// when u no longer has it.
func loginOpenID(u *ent.User, appID, openID string) (*ent.OpenID, error) {
	if u.Disabled {
		return nil, errDisabled
	}
	for _, o := range u.Edges.OpenIds {
		if o.Appid == appID && o.Openid == openID {
			return o, nil
		}
	}
	return nil, errRaced
}

// view reads the user p selects with its unionid and openids (nil when
// there is none), without locking: the writes that follow lock.
func (s *Service) view(ctx context.Context, tx *ent.Tx, p func(*entsql.Selector)) (*ent.User, error) {
	rows, err := users.ViewQuery(tx.User.Query().Where(p)).All(ctx)
	if err != nil {
		return nil, err
	}
	return users.Fold(rows)
}

// returning records the login of a known (appid, openid). Lock order: its
// OpenID row (the newest session_key wins), then the user.
func (s *Service) returning(ctx context.Context, tx *ent.Tx, u *ent.User, appID string, ws wechat.Session, sealedKey []byte, now time.Time, b *binding) error {
	oid, err := loginOpenID(u, appID, ws.OpenID)
	if err != nil {
		return err
	}
	upd := tx.OpenID.Update().Where(openid.ID(oid.ID), openid.UserID(u.ID), openid.Openid(ws.OpenID))
	if b.firstInAppOfDay = stats.FirstOfDay(oid.LastLoginAt, now, s.days); b.firstInAppOfDay {
		// Only while no login of today has committed: a racing one that
		// did makes this one retry, and count as a later login.
		upd.Where(openid.Or(openid.LastLoginAtIsNil(), openid.LastLoginAtLT(stats.DayStart(now, s.days))))
	}
	n, err := upd.SetSessionKey(sealedKey).SetUpdatedAt(now).SetLastLoginAt(now).Save(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("storing session key: %w", err)
	case n == 0:
		return errRaced // the openid moved to another user (a merge) or was erased meanwhile
	}
	if err := s.recordLogin(ctx, tx, u, now, b); err != nil {
		return err
	}
	if b.unionConflict, err = s.attachUnionID(ctx, tx, u, ws.UnionID); err != nil {
		return err
	}
	b.user, b.openID = u, oid
	return nil
}

// first records the first login of an (appid, openid): a person known from
// another app of the same open platform (by unionid) gains the openid;
// anyone else is a new user.
func (s *Service) first(ctx context.Context, tx *ent.Tx, appID string, ws wechat.Session, sealedKey []byte, now time.Time, b *binding) error {
	var known *ent.User
	if ws.UnionID != "" {
		var err error
		if known, err = s.view(ctx, tx, users.ByUnionID(ws.UnionID)); err != nil {
			return fmt.Errorf("finding unionid: %w", err)
		}
		if known != nil && known.Disabled {
			return errDisabled
		}
	}
	u := known
	if u == nil {
		var err error
		u, err = tx.User.Create().SetCreatedAt(now).SetUpdatedAt(now).SetLastLoginAt(now).Save(ctx)
		if err != nil {
			return fmt.Errorf("creating user: %w", err)
		}
		b.isNew, b.firstOfDay = true, true
		u.Edges.SetUnionID(nil)
		if ws.UnionID != "" {
			un, err := tx.UnionID.Create().SetUnionid(ws.UnionID).SetUserID(u.ID).SetCreatedAt(now).Save(ctx)
			if err != nil {
				return fmt.Errorf("creating unionid: %w", err)
			}
			u.Edges.SetUnionID(un)
		}
	}
	oid, err := tx.OpenID.Create().
		SetAppid(appID).
		SetOpenid(ws.OpenID).
		SetSessionKey(sealedKey).
		SetUserID(u.ID).
		SetCreatedAt(now).
		SetUpdatedAt(now).
		SetLastLoginAt(now).
		Save(ctx)
	if err != nil {
		return fmt.Errorf("creating openid: %w", err)
	}
	b.firstInAppOfDay = true
	oid.SessionKey = nil // sealed, and nothing past login needs it
	u.Edges.SetOpenIds(append(u.Edges.OpenIds, oid))
	if known != nil {
		if err := s.recordLogin(ctx, tx, u, now, b); err != nil {
			return err
		}
	}
	b.user, b.openID = u, oid
	return nil
}

// errDisabled rolls back the login of a disabled user.
var errDisabled = errors.New("user is disabled")

// errRaced rolls back a login that raced a change to the user's
// identities (a merge or an erasure); it is retried.
var errRaced = errors.New("login raced a change to the user's identities")

// recordLogin sets the user's last login time, refusing a user disabled,
// erased or merged meanwhile: the UPDATE locks the user's row, after its
// OpenID row. The login is retried (errRaced): its fresh read then finds
// the disabled user (FORBIDDEN), no user (erased: a new one), or the user
// the openid was merged into.
//
// A login whose read found no login of today yet is the user's first of
// the day (b.firstOfDay) only if that still holds under the row lock: the
// UPDATE then also requires it, and a racing login of today that committed
// first makes this one retry, as a later login of the day.
func (s *Service) recordLogin(ctx context.Context, tx *ent.Tx, u *ent.User, now time.Time, b *binding) error {
	upd := tx.User.Update().Where(user.ID(u.ID), user.Disabled(false))
	if b.firstOfDay = stats.FirstOfDay(u.LastLoginAt, now, s.days); b.firstOfDay {
		upd.Where(user.Or(user.LastLoginAtIsNil(), user.LastLoginAtLT(stats.DayStart(now, s.days))))
	}
	n, err := upd.SetLastLoginAt(now).SetUpdatedAt(now).Save(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("recording login: %w", err)
	case n == 0:
		return errRaced
	}
	u.LastLoginAt, u.UpdatedAt = &now, now
	return nil
}

// attachUnionID records a unionid WeChat now reports for a user who had
// none (the app was bound to an open platform after the user registered).
// A unionid that differs from the user's, or belongs to another user, is
// left as it is and logged; for the latter it returns that user's ID, which
// the login's audit event records (an admin resolves it with mergeUsers).
func (s *Service) attachUnionID(ctx context.Context, tx *ent.Tx, u *ent.User, unionID string) (conflict int, _ error) {
	if unionID == "" {
		return 0, nil
	}
	if cur := u.Edges.UnionID; cur != nil {
		if cur.Unionid != unionID {
			s.log.WarnContext(ctx, "unionid conflict: the user has another; left unchanged", "user_id", u.ID)
		}
		return 0, nil
	}
	other, err := tx.UnionID.Query().Where(unionid.Unionid(unionID)).Only(ctx)
	switch {
	case err == nil:
		s.log.WarnContext(ctx, "unionid conflict: it belongs to another user; left unchanged", "user_id", u.ID, "other_user_id", other.UserID)
		return other.UserID, nil
	case !ent.IsNotFound(err):
		return 0, fmt.Errorf("finding unionid: %w", err)
	}
	un, err := tx.UnionID.Create().SetUnionid(unionID).SetUserID(u.ID).SetCreatedAt(s.now().UTC()).Save(ctx)
	if err != nil {
		return 0, fmt.Errorf("attaching unionid: %w", err)
	}
	u.Edges.SetUnionID(un)
	return 0, nil
}

// retryable reports whether a failed binding transaction may succeed when
// run again: a unique key taken by a concurrent login, a deadlock, a lock
// wait timeout, or SQLite's busy database.
func retryable(err error) bool {
	if ent.IsConstraintError(err) || errors.Is(err, errRaced) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1062, 1213, 1205: // duplicate key, deadlock, lock wait timeout
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY") ||
		strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "Duplicate entry")
}

func truncateForMessage(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
