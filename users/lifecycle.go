package users

import (
	"context"
	"fmt"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/audit"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/session"
)

// MySessions returns the caller's live sessions, newest first: the newest
// skey of each login, never the skeys themselves.
func (s *Service) MySessions(ctx context.Context, caller session.Info) ([]*ent.Session, error) {
	rows, err := s.sessions.Active(ctx, caller.UserID)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return rows, nil
}

// msgNoSession answers a session ID that names no live session of the
// caller: unknown, ended, or another user's alike.
const msgNoSession = "no live session of yours has this ID"

// RevokeMySession ends the caller's session id and every skey of its
// login, recording SESSION_REVOKED. NOT_FOUND when id names no live session
// of the caller, so that another user's session IDs cannot be probed.
func (s *Service) RevokeMySession(ctx context.Context, caller session.Info, id int) error {
	var rev session.Revoked
	err := s.transact(ctx, func(tx *ent.Tx) error {
		var err error
		if rev, err = s.sessions.RevokeSessionTx(ctx, tx, caller.UserID, id); err != nil || rev.N == 0 {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Kind: audit.SessionRevoked, At: s.now(), UserID: caller.UserID,
			Actor: audit.UserActor(caller.UserID), Count: audit.Count(rev.N)})
	})
	if err != nil {
		return apperr.Internal(fmt.Errorf("revoking session: %w", err))
	}
	if rev.N == 0 {
		return apperr.NotFound(msgNoSession)
	}
	s.sessions.Bury(ctx, rev)
	return nil
}

// LogoutEverywhere ends every session of the caller, the current one
// included, recording LOGOUT with how many; it returns how many.
func (s *Service) LogoutEverywhere(ctx context.Context, caller session.Info) (int, error) {
	var rev session.Revoked
	err := s.transact(ctx, func(tx *ent.Tx) error {
		var err error
		if rev, err = s.sessions.RevokeUserTx(ctx, tx, caller.UserID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Kind: audit.Logout, At: s.now(), UserID: caller.UserID,
			Actor: audit.UserActor(caller.UserID), Count: audit.Count(rev.N)})
	})
	if err != nil {
		return 0, apperr.Internal(fmt.Errorf("logging out everywhere: %w", err))
	}
	s.sessions.Bury(ctx, rev)
	return rev.N, nil
}
