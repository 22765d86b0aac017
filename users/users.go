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
	"fmt"
	"log/slog"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/openid"
	"github.com/wxid/wxid/ent/unionid"
	"github.com/wxid/wxid/ent/user"
)

// Sessions is the part of the session manager the users service needs;
// *session.Manager implements it.
type Sessions interface {
	// RevokeUser ends every live session of a user and returns how many.
	RevokeUser(ctx context.Context, userID int) (int, error)
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
}

// Options configure a Service.
type Options struct {
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// NewService returns a users service over the database; sessions ends the
// sessions of disabled and signed-out users.
func NewService(db *ent.Client, sessions Sessions, o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{db: db, sessions: sessions, log: o.Logger}
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

// Me returns the user of a session, with the edges e names loaded in the
// same statement (its view: see ViewQuery). A user that no longer exists or
// is disabled is UNAUTHENTICATED: the skey no longer stands for anyone.
func (s *Service) Me(ctx context.Context, userID int, e Edges) (*ent.User, error) {
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
	u, err := Fold(rows)
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

// SetDisabled disables or re-enables a user. Disabling also revokes every
// session of the user, so its skeys stop working at once.
func (s *Service) SetDisabled(ctx context.Context, userID int, disabled bool) (*ent.User, error) {
	u, err := s.db.User.UpdateOneID(userID).SetDisabled(disabled).Save(ctx)
	switch {
	case ent.IsNotFound(err):
		return nil, apperr.NotFound("user not found")
	case err != nil:
		return nil, apperr.Internal(fmt.Errorf("updating user: %w", err))
	}
	if disabled {
		if _, err := s.sessions.RevokeUser(ctx, userID); err != nil {
			return nil, apperr.Internal(err)
		}
	}
	s.log.InfoContext(ctx, "user disabled flag changed", "user_id", userID, "disabled", disabled)
	return u, nil
}

// RevokeSessions ends every live session of a user and returns how many
// it ended; NOT_FOUND for an unknown user.
func (s *Service) RevokeSessions(ctx context.Context, userID int) (int, error) {
	exists, err := s.db.User.Query().Where(user.ID(userID)).Exist(ctx)
	switch {
	case err != nil:
		return 0, apperr.Internal(fmt.Errorf("reading user: %w", err))
	case !exists:
		return 0, apperr.NotFound("user not found")
	}
	n, err := s.sessions.RevokeUser(ctx, userID)
	if err != nil {
		return 0, apperr.Internal(err)
	}
	return n, nil
}
