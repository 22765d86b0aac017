package segment

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wxid/wxid/ent"
)

// Formats of an export.
const (
	// NDJSON is one JSON object a line (application/x-ndjson), the last
	// line the end summary.
	NDJSON = "ndjson"
	// CSV is RFC 4180 CSV (text/csv) with a header row.
	CSV = "csv"
)

// Trailers of every export: how it ended. A stream cut before its end
// has none (and, in NDJSON, no end line).
const (
	// TrailerComplete is "true" when every user of the segment was sent,
	// "false" when the export stopped on an error (TrailerError).
	TrailerComplete = "Wxid-Export-Complete"
	// TrailerCount is how many users this answer holds.
	TrailerCount = "Wxid-Export-Count"
	// TrailerAfter is the `after` that resumes the export.
	TrailerAfter = "Wxid-Export-After"
	// TrailerError is the code of the error that stopped the export.
	TrailerError = "Wxid-Export-Error"
)

// row is one user as an export shows it: what the admin User view shows,
// never a session_key, an skey or a token hash. The id is a string, as
// the GraphQL API's ID, and is the cursor of a resumed export.
type row struct {
	ID              string     `json:"id"`
	UnionID         *string    `json:"unionId"`
	OpenIDs         []openID   `json:"openIds"`
	PhoneNumber     *string    `json:"phoneNumber"`
	PurePhoneNumber *string    `json:"purePhoneNumber"`
	CountryCode     *string    `json:"countryCode"`
	PhoneVerifiedAt *time.Time `json:"phoneVerifiedAt"`
	Nickname        *string    `json:"nickname"`
	AvatarURL       *string    `json:"avatarUrl"`
	CreatedAt       time.Time  `json:"createdAt"`
	UpdatedAt       time.Time  `json:"updatedAt"`
	LastLoginAt     *time.Time `json:"lastLoginAt"`
	Disabled        bool       `json:"disabled"`
	ErasedAt        *time.Time `json:"erasedAt"`
}

type openID struct {
	AppID  string `json:"appId"`
	OpenID string `json:"openId"`
}

// columns are the CSV header, in the order of row's fields.
var columns = []string{"id", "unionId", "openIds", "phoneNumber", "purePhoneNumber", "countryCode", "phoneVerifiedAt",
	"nickname", "avatarUrl", "createdAt", "updatedAt", "lastLoginAt", "disabled", "erasedAt"}

func newRow(u *ent.User) row {
	r := row{
		ID: strconv.Itoa(u.ID), PhoneNumber: u.PhoneNumber, PurePhoneNumber: u.PurePhoneNumber, CountryCode: u.CountryCode,
		PhoneVerifiedAt: utc(u.PhoneVerifiedAt), Nickname: u.Nickname, AvatarURL: u.AvatarURL,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(), LastLoginAt: utc(u.LastLoginAt),
		Disabled: u.Disabled, ErasedAt: utc(u.ErasedAt), OpenIDs: []openID{},
	}
	if un := u.Edges.UnionID; un != nil {
		r.UnionID = &un.Unionid
	}
	for _, o := range u.Edges.OpenIds {
		r.OpenIDs = append(r.OpenIDs, openID{AppID: o.Appid, OpenID: o.Openid})
	}
	return r
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// ending is how an export ended, for its last line and its trailers.
type ending struct {
	Count    int        `json:"count"`
	Complete bool       `json:"complete"`
	After    string     `json:"after"`
	Error    *errorJSON `json:"error,omitempty"`
}

type errorJSON struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// encoder writes one format.
type encoder interface {
	// contentType is the answer's media type.
	contentType() string
	// begin writes what precedes the rows.
	begin(w *bufio.Writer) error
	// row writes one user.
	row(w *bufio.Writer, u *ent.User) error
	// end writes what follows the rows (the trailers are written apart).
	end(w *bufio.Writer, e ending) error
}

func newEncoder(format string) encoder {
	if format == CSV {
		return &csvEncoder{}
	}
	return ndjsonEncoder{}
}

type ndjsonEncoder struct{}

func (ndjsonEncoder) contentType() string       { return "application/x-ndjson; charset=utf-8" }
func (ndjsonEncoder) begin(*bufio.Writer) error { return nil }

func (ndjsonEncoder) row(w *bufio.Writer, u *ent.User) error {
	return json.NewEncoder(w).Encode(newRow(u)) // Encode ends the line
}

func (ndjsonEncoder) end(w *bufio.Writer, e ending) error {
	return json.NewEncoder(w).Encode(map[string]ending{"end": e})
}

// csvEncoder writes RFC 4180 CSV: CRLF line ends, fields with a comma, a
// quote or a line break quoted, quotes doubled. Cells a spreadsheet would
// run as a formula are defused (Defuse).
type csvEncoder struct {
	cw     *csv.Writer
	record []string
}

func (*csvEncoder) contentType() string { return "text/csv; charset=utf-8; header=present" }

func (c *csvEncoder) begin(w *bufio.Writer) error {
	c.cw = csv.NewWriter(w)
	c.cw.UseCRLF = true
	c.record = make([]string, len(columns))
	if err := c.cw.Write(columns); err != nil {
		return err
	}
	c.cw.Flush()
	return c.cw.Error()
}

func (c *csvEncoder) row(_ *bufio.Writer, u *ent.User) error {
	r := newRow(u)
	oids := make([]string, len(r.OpenIDs))
	for i, o := range r.OpenIDs {
		oids[i] = o.AppID + ":" + o.OpenID
	}
	cells := []string{r.ID, str(r.UnionID), strings.Join(oids, " "), str(r.PhoneNumber), str(r.PurePhoneNumber),
		str(r.CountryCode), tm(r.PhoneVerifiedAt), str(r.Nickname), str(r.AvatarURL), tm(&r.CreatedAt), tm(&r.UpdatedAt),
		tm(r.LastLoginAt), strconv.FormatBool(r.Disabled), tm(r.ErasedAt)}
	for i, v := range cells {
		c.record[i] = Defuse(v)
	}
	if err := c.cw.Write(c.record); err != nil {
		return err
	}
	c.cw.Flush() // into the bufio.Writer, which the handler flushes per batch
	return c.cw.Error()
}

func (c *csvEncoder) end(*bufio.Writer, ending) error { return nil }

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func tm(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Defuse keeps a CSV cell from running as a formula when the file is
// opened in a spreadsheet (CSV injection): a cell that starts with =, +,
// -, @, a tab or a carriage return gets a leading apostrophe, which
// spreadsheets show as text. A phone number with its country prefix
// ("+8613800138000": a plus and digits only) is left as it is: no
// spreadsheet runs it as anything but a number.
func Defuse(cell string) string {
	if cell == "" || !strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return cell
	}
	if cell[0] == '+' && len(cell) > 1 && strings.Trim(cell[1:], "0123456789") == "" {
		return cell
	}
	return "'" + cell
}

// setTrailers writes e as the answer's trailers (declared by declare).
func setTrailers(h http.Header, e ending) {
	h.Set(TrailerComplete, strconv.FormatBool(e.Complete))
	h.Set(TrailerCount, strconv.Itoa(e.Count))
	h.Set(TrailerAfter, e.After)
	if e.Error != nil {
		if code, ok := e.Error.Extensions["code"].(string); ok {
			h.Set(TrailerError, code)
		}
	}
}

// declareTrailers announces the trailers before the body.
func declareTrailers(h http.Header) {
	h.Set("Trailer", strings.Join([]string{TrailerComplete, TrailerCount, TrailerAfter, TrailerError}, ", "))
}
