package users

import (
	"context"
	"errors"
	"fmt"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/audit"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/openid"
	"github.com/wxid/wxid/ent/unionid"
	"github.com/wxid/wxid/ent/user"
	"github.com/wxid/wxid/session"
)

// Erasure (deleteMyAccount, eraseUser) removes everything that identifies
// a person, in one transaction:
//
//   - the user's phone number, nickname, avatar and last login time;
//   - its unionid (deleted);
//   - its openids: each row loses its sealed session_key and its openid,
//     replaced by "erased:<row id>", so that the same WeChat account
//     logging in later finds nothing and becomes a new user;
//   - its sessions: revoked (the skeys die on every instance at once,
//     through the cache and the revocation feed) and stripped of client IP
//     and user agent; the purge deletes them an hour later;
//   - the client IPs of the audit events about it.
//
// What stays: the user row, empty, disabled and marked erased_at (its ID
// is what the audit events and the revoked sessions point at), the openid
// rows as "erased:<id>" placeholders of the apps the user used, and the
// audit events with kinds, times and actors.
//
// Lock order (package identity): the user's OpenID rows, then the user's
// row, then its sessions. A login racing the erasure either commits first
// (its session is revoked with the others) or finds the openid renamed or
// the user erased, and retries as a new user.

// Erase erases a user; kind is audit.AccountDeleted (the user itself) or
// audit.UserErased (an admin). NOT_FOUND for an unknown user; erasing an
// erased user again changes nothing more.
func (s *Service) Erase(ctx context.Context, userID int, kind audit.Kind) error {
	var rev session.Revoked
	err := s.transact(ctx, func(tx *ent.Tx) error {
		var err error
		rev, err = s.eraseTx(ctx, tx, userID, kind)
		return err
	})
	switch {
	case errors.Is(err, errNoUser):
		return apperr.NotFound("user not found")
	case err != nil:
		return apperr.Internal(fmt.Errorf("erasing user: %w", err))
	}
	s.sessions.Bury(ctx, rev)
	s.views.Invalidate(ctx, userID)
	s.log.InfoContext(ctx, "user erased", "user_id", userID, "kind", kind, "sessions_revoked", rev.N)
	return nil
}

func (s *Service) eraseTx(ctx context.Context, tx *ent.Tx, userID int, kind audit.Kind) (session.Revoked, error) {
	now := s.now().UTC()
	oq := tx.OpenID.Query().Where(openid.UserID(userID))
	uq := tx.User.Query().Where(user.ID(userID))
	if s.rowLocks {
		oq, uq = oq.ForUpdate(), uq.ForUpdate()
	}
	if _, err := oq.IDs(ctx); err != nil { // the lock order's first step
		return session.Revoked{}, fmt.Errorf("locking openids: %w", err)
	}
	if _, err := uq.Only(ctx); err != nil {
		if ent.IsNotFound(err) {
			return session.Revoked{}, errNoUser
		}
		return session.Revoked{}, fmt.Errorf("locking user: %w", err)
	}
	// Read the openids again under the user's lock: a login of a new app
	// that committed between the two locks added one, and it must not
	// escape the erasure. Logins that have not committed yet wait for the
	// user's lock and then fail on the erased user (and retry as new).
	oids, err := tx.OpenID.Query().Where(openid.UserID(userID)).IDs(ctx)
	if err != nil {
		return session.Revoked{}, fmt.Errorf("reading openids: %w", err)
	}
	rev, err := s.sessions.EraseUserTx(ctx, tx, userID)
	if err != nil {
		return session.Revoked{}, err
	}
	if _, err := tx.UnionID.Delete().Where(unionid.UserID(userID)).Exec(ctx); err != nil {
		return session.Revoked{}, fmt.Errorf("deleting unionid: %w", err)
	}
	for _, id := range oids {
		if err := tx.OpenID.UpdateOneID(id).SetOpenid(fmt.Sprintf("erased:%d", id)).ClearSessionKey().SetUpdatedAt(now).Exec(ctx); err != nil {
			return session.Revoked{}, fmt.Errorf("erasing openid: %w", err)
		}
	}
	err = tx.User.UpdateOneID(userID).
		ClearPhoneNumber().ClearPurePhoneNumber().ClearCountryCode().ClearPhoneVerifiedAt().
		ClearNickname().ClearAvatarURL().ClearLastLoginAt().
		SetDisabled(true).SetErasedAt(now).SetUpdatedAt(now).
		Exec(ctx)
	if err != nil {
		return session.Revoked{}, fmt.Errorf("erasing user: %w", err)
	}
	if err := audit.ForgetClientIPs(ctx, tx, userID); err != nil {
		return session.Revoked{}, err
	}
	ev := audit.Event{Kind: kind, At: now, UserID: userID, Count: audit.Count(rev.N), NoClientIP: kind == audit.AccountDeleted}
	if kind == audit.AccountDeleted {
		ev.Actor = audit.UserActor(userID)
	}
	return rev, audit.Record(ctx, tx, ev)
}
