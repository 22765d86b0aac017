package users

import (
	"fmt"

	"entgo.io/ent/dialect/sql"

	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/openid"
	"github.com/wxid/wxid/ent/unionid"
	"github.com/wxid/wxid/ent/user"
	"github.com/wxid/wxid/internal/colvalue"
)

// A user's view is the user row with its unionid and its openids, read in
// one statement: the user LEFT JOIN its unionid, JOIN its openids, one row
// per openid. Fold turns the rows into one *ent.User whose UnionID and
// OpenIds edges are loaded, so that nothing reads them again.

// Columns the view adds beside the user's own.
const (
	unionIDColumn      = "wxid_unionid"
	openIDIDColumn     = "wxid_openid_id"
	openIDAppColumn    = "wxid_openid_appid"
	openIDOpenIDColumn = "wxid_openid_openid"
	openIDCreateColumn = "wxid_openid_created_at"
	openIDLoginColumn  = "wxid_openid_last_login_at"
)

// joinUnionID selects the user's unionid beside the user, as
// unionIDColumn: "" when it has none (a unionid is never empty), since the
// SQLite driver gives a NULL expression no type to scan into.
func joinUnionID(s *sql.Selector) {
	t := sql.Table(unionid.Table).As("wxid_u")
	s.LeftJoin(t).On(s.C(user.FieldID), t.C(unionid.FieldUserID))
	s.AppendSelect(sql.As("COALESCE("+t.C(unionid.FieldUnionid)+", '')", unionIDColumn))
}

// joinOpenIDs selects the user's openids beside the user, one row per
// openid, oldest first. Every user has at least one openid.
func joinOpenIDs(s *sql.Selector) {
	t := sql.Table(openid.Table).As("wxid_o")
	s.Join(t).On(s.C(user.FieldID), t.C(openid.FieldUserID))
	s.AppendSelect(
		sql.As(t.C(openid.FieldID), openIDIDColumn),
		sql.As(t.C(openid.FieldAppid), openIDAppColumn),
		sql.As(t.C(openid.FieldOpenid), openIDOpenIDColumn),
		sql.As(t.C(openid.FieldCreatedAt), openIDCreateColumn),
		// An account that never logged in since last_login_at was added
		// (NULL, which the SQLite driver cannot scan here) last logged in
		// when it was created, by its first login.
		sql.As("COALESCE("+t.C(openid.FieldLastLoginAt)+", "+t.C(openid.FieldCreatedAt)+")", openIDLoginColumn),
	)
	s.OrderBy(t.C(openid.FieldID))
}

// ByAccount selects the user whose openid in app appID is openID, by a
// join on the account's unique key: the database reads that one OpenID row
// first, as a constant, instead of testing users against a subquery (what
// ent's HasOpenIdsWith builds), which costs a login's hottest statement
// more to plan than to run.
func ByAccount(appID, openID string) func(*sql.Selector) {
	return func(s *sql.Selector) {
		t := sql.Table(openid.Table).As("wxid_a")
		s.Join(t).On(s.C(user.FieldID), t.C(openid.FieldUserID))
		s.Where(sql.And(sql.EQ(t.C(openid.FieldAppid), appID), sql.EQ(t.C(openid.FieldOpenid), openID)))
	}
}

// ByUnionID selects the user holding unionID, by a join on its unique key
// (as ByAccount).
func ByUnionID(unionID string) func(*sql.Selector) {
	return func(s *sql.Selector) {
		t := sql.Table(unionid.Table).As("wxid_k")
		s.Join(t).On(s.C(user.FieldID), t.C(unionid.FieldUserID))
		s.Where(sql.EQ(t.C(unionid.FieldUnionid), unionID))
	}
}

// ViewQuery makes q read users with their view: the unionid and the
// openids in the same statement. Read it with All, then Fold.
func ViewQuery(q *ent.UserQuery) *ent.UserQuery {
	return q.Where(joinUnionID, joinOpenIDs)
}

// Fold turns the rows of a view query of one user into the user, with its
// UnionID and OpenIds edges loaded. It returns nil for no rows.
func Fold(rows []*ent.User) (*ent.User, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	u := rows[0]
	for _, r := range rows[1:] {
		if r.ID != u.ID {
			return nil, fmt.Errorf("folding a user view: rows of users %d and %d", u.ID, r.ID)
		}
	}
	if colvalue.Has(u, unionIDColumn) {
		un := colvalue.String(u, unionIDColumn)
		if un == "" {
			u.Edges.SetUnionID(nil)
		} else {
			u.Edges.SetUnionID(&ent.UnionID{UserID: u.ID, Unionid: un})
		}
	}
	if colvalue.Has(u, openIDIDColumn) {
		ids := make([]*ent.OpenID, 0, len(rows))
		for _, r := range rows {
			id, err := colvalue.Int(r, openIDIDColumn)
			if err != nil {
				return nil, err
			}
			o := &ent.OpenID{ID: id, UserID: u.ID,
				Appid: colvalue.String(r, openIDAppColumn), Openid: colvalue.String(r, openIDOpenIDColumn),
				CreatedAt: colvalue.Time(r, openIDCreateColumn)}
			if colvalue.Has(r, openIDLoginColumn) {
				// Never NULL (COALESCE): a zero time did not parse, and a
				// login must not guess whether it is the first of the day.
				t := colvalue.Time(r, openIDLoginColumn)
				if t.IsZero() {
					return nil, fmt.Errorf("folding a user view: openid %d: unreadable last login time", id)
				}
				o.LastLoginAt = &t
			}
			ids = append(ids, o)
		}
		u.Edges.SetOpenIds(ids)
	}
	return u, nil
}
