package users

import (
	"context"
	"fmt"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/ent"
)

// withActiveSessions loads the sessions that still work of all of us in
// one statement and keeps them in each user's Edges.Sessions (an empty,
// non-nil slice for a user without any), where ActiveSessions finds them:
// a page of users with their sessions costs two statements, not one per
// user.
func (s *Service) withActiveSessions(ctx context.Context, us []*ent.User) error {
	if len(us) == 0 {
		return nil
	}
	ids := make([]int, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	active, err := s.sessions.ActiveOf(ctx, ids)
	if err != nil {
		return fmt.Errorf("loading active sessions: %w", err)
	}
	for _, u := range us {
		u.Edges.Sessions = active[u.ID]
		if u.Edges.Sessions == nil {
			u.Edges.Sessions = []*ent.Session{}
		}
	}
	return nil
}

// ActiveSessions returns u's sessions that still work, newest first: those
// List or Nodes loaded with the page (Edges.ActiveSessions), else one
// query for u alone.
func (s *Service) ActiveSessions(ctx context.Context, u *ent.User) ([]*ent.Session, error) {
	if u.Edges.Sessions != nil {
		return u.Edges.Sessions, nil
	}
	rows, err := s.sessions.Active(ctx, u.ID)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return rows, nil
}
