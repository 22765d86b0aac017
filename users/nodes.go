package users

import (
	"context"
	"fmt"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/auditevent"
	"github.com/wxid/wxid/ent/user"
)

// Nodes resolves the Relay node IDs ids, in their order: users (with the
// edges e names, one query per edge), sessions and audit events; nil for
// an ID that names none of them. It refuses more than MaxPageSize IDs.
func (s *Service) Nodes(ctx context.Context, ids []int, e Edges) ([]ent.Noder, error) {
	if len(ids) > MaxPageSize {
		return nil, apperr.BadInput("ids must list at most %d IDs", MaxPageSize)
	}
	out := make([]ent.Noder, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	found, err := s.nodes(ctx, ids, e)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	for i, id := range ids {
		if n, ok := found[id]; ok {
			out[i] = n
		}
	}
	return out, nil
}

// nodes reads the users among ids, then the sessions among the rest, then
// the audit events among what is left.
func (s *Service) nodes(ctx context.Context, ids []int, e Edges) (map[int]ent.Noder, error) {
	// A merged user's ID no longer resolves.
	users, err := e.with(s.db.User.Query().Where(user.IDIn(ids...), user.MergedIntoIDIsNil())).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading user nodes: %w", err)
	}
	if e.ActiveSessions {
		if err := s.withActiveSessions(ctx, users); err != nil {
			return nil, err
		}
	}
	found := make(map[int]ent.Noder, len(ids))
	for _, u := range users {
		found[u.ID] = u
	}
	var rest []int
	for _, id := range ids {
		if _, ok := found[id]; !ok {
			rest = append(rest, id)
		}
	}
	if len(rest) == 0 {
		return found, nil
	}
	sessions, err := s.sessions.Sessions(ctx, rest)
	if err != nil {
		return nil, fmt.Errorf("loading session nodes: %w", err)
	}
	for _, r := range sessions {
		found[r.ID] = r
	}
	rest = rest[:0:0]
	for _, id := range ids {
		if _, ok := found[id]; !ok {
			rest = append(rest, id)
		}
	}
	if len(rest) == 0 {
		return found, nil
	}
	events, err := s.db.AuditEvent.Query().Where(auditevent.IDIn(rest...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading audit event nodes: %w", err)
	}
	for _, e := range events {
		found[e.ID] = e
	}
	return found, nil
}
