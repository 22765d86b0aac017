package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/users"
)

// TestAdminWhereShapes: every `where` shape that no index serves is refused
// up front with BAD_USER_INPUT and a message saying what to do instead;
// the indexed shapes answer.
func TestAdminWhereShapes(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend})
		alice := e.Login(t, "", "alice")
		nested := func(depth int) map[string]any {
			w := map[string]any{"disabled": false}
			for range depth {
				w = map[string]any{"hasOpenIdsWith": []any{map[string]any{"hasUserWith": []any{w}}}}
			}
			return w
		}
		many := make([]any, users.MaxWhereInputs)
		for i := range many {
			many[i] = map[string]any{"disabled": false}
		}
		refused := []struct {
			name  string
			where map[string]any
			says  string
		}{
			{"phone contains", map[string]any{"phoneNumberContains": "8000"}, "phoneNumberEndsWith"},
			{"phone suffix", map[string]any{"phoneNumberHasSuffix": "8000"}, "phoneNumberEndsWith"},
			{"pure phone suffix", map[string]any{"purePhoneNumberHasSuffix": "8000"}, "phoneNumberEndsWith"},
			{"phone equal fold", map[string]any{"phoneNumberEqualFold": "+8613800138000"}, "exact value"},
			{"openid contains fold", map[string]any{"hasOpenIdsWith": []any{map[string]any{"openidContainsFold": "abc"}}}, "exact value"},
			{"unionid contains", map[string]any{"hasUnionIDWith": []any{map[string]any{"unionidContains": "abc"}}}, "exact value"},
			{"two nested edge predicates", nested(2), "inside another"},
			{"seven nested edge predicates", nested(7), "inside another"},
			{"an edge predicate in or", map[string]any{"or": []any{
				map[string]any{"phoneNumber": "+8613800138000"},
				map[string]any{"hasUnionIDWith": []any{map[string]any{"unionid": "u"}}},
			}}, "one query per alternative"},
			{"an edge predicate in not", map[string]any{"not": map[string]any{"hasUnionID": true}}, "one query per alternative"},
			{"deep not", map[string]any{"not": map[string]any{"not": map[string]any{"not": map[string]any{"not": map[string]any{"disabled": true}}}}}, "nests deeper"},
			{"too many conditions", map[string]any{"and": many}, "more than"},
		}
		for _, tc := range refused {
			t.Run(tc.name, func(t *testing.T) {
				start := time.Now()
				r := e.Do(t, apptest.AdminToken, usersQuery, map[string]any{"first": 10, "where": tc.where})
				require.Equal(t, "BAD_USER_INPUT", r.Code(), r.Body)
				require.Contains(t, r.Body, tc.says)
				require.Less(t, time.Since(start), time.Second, "refused before any SQL")
			})
		}
		allowed := []map[string]any{
			{"hasOpenIdsWith": []any{map[string]any{"openid": alice.OpenID}}, "not": map[string]any{"disabled": true}},
			{"or": []any{map[string]any{"phoneNumberHasPrefix": "+86"}, map[string]any{"disabled": false}}},
			{"and": []any{map[string]any{"hasUnionID": true}, map[string]any{"disabled": false}}},
		}
		for i, w := range allowed {
			c := listUsers(t, e, map[string]any{"first": 10, "where": w})
			require.Equal(t, []string{alice.User.ID}, c.ids(), "allowed shape %d", i)
		}
	})
}

// TestAdminCursorOfAnotherOrder: a cursor works only with the orderBy it
// was cut in, the two time orders and the id order told apart.
func TestAdminCursorOfAnotherOrder(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	e.Login(t, "", "alice")
	e.Login(t, "", "bob")
	orders := map[string]any{
		"ID":            nil,
		"CREATED_AT":    map[string]any{"field": "CREATED_AT", "direction": "ASC"},
		"LAST_LOGIN_AT": map[string]any{"field": "LAST_LOGIN_AT", "direction": "ASC"},
	}
	for from, fromOrder := range orders {
		c := listUsers(t, e, map[string]any{"first": 1, "orderBy": fromOrder})
		cursor := *c.PageInfo.EndCursor
		for to, toOrder := range orders {
			r := e.Do(t, apptest.AdminToken, usersQuery, map[string]any{"first": 1, "after": cursor, "orderBy": toOrder})
			if from == to {
				apptest.Must(t, r)
				continue
			}
			require.Equal(t, "BAD_USER_INPUT", r.Code(), "a %s cursor with %s: %s", from, to, r.Body)
			require.True(t, strings.Contains(r.Body, "another orderBy"), r.Body)
		}
	}
}
