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

// errUnionConflict refuses a merge of two users with different unionids.
var errUnionConflict = errors.New("both users have a unionid, and they differ")

// Merge makes one person who became two users one user again (mergeUsers):
// the merged user's openids, its unionid and, when the kept user has none,
// its phone number move to the kept user; the merged user's sessions end,
// and the merged user stays as an empty, disabled row pointing at the kept
// one (merged_into_id), whose ID no longer resolves. Logging in with a
// moved openid afterwards returns the kept user. BAD_USER_INPUT when both
// users have different unionids, or keep and merge are the same user;
// NOT_FOUND when either is unknown, erased or already merged.
//
// Lock order (package identity): both users' OpenID rows, then both user
// rows (lower ID first), then the sessions.
func (s *Service) Merge(ctx context.Context, keepID, mergeID int) (*ent.User, error) {
	if keepID == mergeID {
		return nil, apperr.BadInput("keepId and mergeId must name two different users")
	}
	var (
		kept *ent.User
		rev  session.Revoked
	)
	err := s.transact(ctx, func(tx *ent.Tx) error {
		var err error
		kept, rev, err = s.mergeTx(ctx, tx, keepID, mergeID)
		return err
	})
	switch {
	case errors.Is(err, errNoUser):
		return nil, apperr.NotFound("user not found: keepId and mergeId must name existing users that were neither erased nor merged")
	case errors.Is(err, errUnionConflict):
		return nil, apperr.BadInput("the users have different unionids: they are two WeChat people and cannot be merged")
	case err != nil:
		return nil, apperr.Internal(fmt.Errorf("merging users: %w", err))
	}
	s.sessions.Bury(ctx, rev)
	s.views.Invalidate(ctx, keepID, mergeID)
	s.log.InfoContext(ctx, "users merged", "kept_user_id", keepID, "merged_user_id", mergeID, "sessions_revoked", rev.N)
	return kept, nil
}

func (s *Service) mergeTx(ctx context.Context, tx *ent.Tx, keepID, mergeID int) (*ent.User, session.Revoked, error) {
	none := session.Revoked{}
	now := s.now().UTC()
	keep, merge, err := s.lockPair(ctx, tx, keepID, mergeID)
	if err != nil {
		return nil, none, err
	}
	unions, err := tx.UnionID.Query().Where(unionid.UserIDIn(keepID, mergeID)).All(ctx)
	if err != nil {
		return nil, none, fmt.Errorf("reading unionids: %w", err)
	}
	if len(unions) == 2 {
		return nil, none, errUnionConflict
	}
	rev, err := s.sessions.RevokeUserTx(ctx, tx, mergeID)
	if err != nil {
		return nil, none, err
	}
	if err := tx.OpenID.Update().Where(openid.UserID(mergeID)).SetUserID(keepID).SetUpdatedAt(now).Exec(ctx); err != nil {
		return nil, none, fmt.Errorf("moving openids: %w", err)
	}
	if len(unions) == 1 && unions[0].UserID == mergeID {
		if err := tx.UnionID.UpdateOne(unions[0]).SetUserID(keepID).Exec(ctx); err != nil {
			return nil, none, fmt.Errorf("moving unionid: %w", err)
		}
	}
	// The merged row keeps nothing; its phone moves when the kept user has none.
	mu := tx.User.UpdateOneID(mergeID).
		ClearPhoneNumber().ClearPurePhoneNumber().ClearCountryCode().ClearPhoneVerifiedAt().
		ClearNickname().ClearAvatarURL().
		SetDisabled(true).SetMergedIntoID(keepID).SetUpdatedAt(now)
	if err := mu.Exec(ctx); err != nil {
		return nil, none, fmt.Errorf("emptying merged user: %w", err)
	}
	ku := tx.User.UpdateOneID(keepID).SetUpdatedAt(now)
	if keep.PhoneNumber == nil && merge.PhoneNumber != nil {
		ku.SetNillablePhoneNumber(merge.PhoneNumber).SetNillablePurePhoneNumber(merge.PurePhoneNumber).
			SetNillableCountryCode(merge.CountryCode).SetNillablePhoneVerifiedAt(merge.PhoneVerifiedAt)
	}
	if keep.Nickname == nil && merge.Nickname != nil {
		ku.SetNillableNickname(merge.Nickname).SetNillableAvatarURL(merge.AvatarURL)
	}
	kept, err := ku.Save(ctx)
	if err != nil {
		return nil, none, fmt.Errorf("updating kept user: %w", err)
	}
	err = audit.Record(ctx, tx, audit.Event{Kind: audit.UsersMerged, At: now, UserID: keepID, OtherUserID: mergeID, Count: audit.Count(rev.N)})
	return kept.Unwrap(), rev, err
}

// lockPair locks the two users' openid rows, then their user rows (the
// lock order of package identity), and returns them; errNoUser unless both
// exist and neither was erased or merged.
func (s *Service) lockPair(ctx context.Context, tx *ent.Tx, keepID, mergeID int) (keep, merge *ent.User, err error) {
	oq := tx.OpenID.Query().Where(openid.UserIDIn(keepID, mergeID)).Order(openid.ByID())
	uq := tx.User.Query().Where(user.IDIn(keepID, mergeID)).Order(user.ByID())
	if s.rowLocks {
		oq, uq = oq.ForUpdate(), uq.ForUpdate()
	}
	if _, err := oq.IDs(ctx); err != nil {
		return nil, nil, fmt.Errorf("locking openids: %w", err)
	}
	rows, err := uq.All(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("locking users: %w", err)
	}
	for _, u := range rows {
		if u.ErasedAt != nil || u.MergedIntoID != nil {
			continue
		}
		if u.ID == keepID {
			keep = u
		} else {
			merge = u
		}
	}
	if keep == nil || merge == nil {
		return nil, nil, errNoUser
	}
	return keep, merge, nil
}
