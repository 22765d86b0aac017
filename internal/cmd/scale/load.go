package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wxid/wxid/database"
)

// loadOptions shape the synthetic data.
type loadOptions struct {
	users, apps, sessions, batch   int
	secondOpenID, unionIDs, phones float64
	stats                          statsOptions
}

// The first id of each table: ent gives every type a range of 1<<32 ids
// (the AUTO_INCREMENT start of each table in the baseline migration).
const (
	openIDBase  int64 = 0
	sessionBase int64 = 1 << 32
	unionIDBase int64 = 2 << 32
	userBase    int64 = 3 << 32
)

// The synthetic data is a pure function of the user's index i, so that the
// query shapes can name users, openids and phones that exist.

func appID(a int) string         { return fmt.Sprintf("wx%016dscale", a) }
func userID(i int) int64         { return userBase + 1 + int64(i) }
func openIDOf(i, app int) string { return fmt.Sprintf("oScale%02d%020d", app, i) }
func unionIDOf(i int) string     { return fmt.Sprintf("uScale%022d", i) }
func purePhone(i int) string     { return fmt.Sprintf("139%08d", i) }

// every reports whether user i is among the fraction f of users, spread
// evenly over the ids.
func every(i int, f float64) bool {
	return f > 0 && int(float64(i)*f) != int(float64(i+1)*f)
}

// epoch is when the first synthetic user signed up: a year before now.
var now = time.Now().UTC().Truncate(time.Second)

func createdAt(i, n int) time.Time {
	return now.Add(-365 * 24 * time.Hour).Add(time.Duration(float64(365*24*time.Hour) * float64(i) / float64(n)))
}

func ts(t time.Time) string { return "'" + t.Format("2006-01-02 15:04:05") + "'" }

// load fills the tables in batches of multi-row INSERTs, two tables at a
// time, and analyzes them. It is one function on purpose: each table's row
// generator sits beside the others, in the order of their foreign keys, so
// the synthetic data set reads in one place.
func load(ctx context.Context, db *sql.DB, o loadOptions) error {
	n := o.users
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	g.Go(func() error {
		return insert(gctx, db, o.batch, "users (id, phone_number, pure_phone_number, country_code, phone_suffix, phone_verified_at, created_at, updated_at, last_login_at, disabled)", n,
			func(i int, b *strings.Builder) bool {
				c := createdAt(i, n)
				phone, pure, cc, suffix, verified := "NULL", "NULL", "NULL", "NULL", "NULL"
				if every(i, o.phones) {
					pure = "'" + purePhone(i) + "'"
					phone = "'+86" + purePhone(i) + "'"
					suffix = "'" + database.PhoneSuffix(purePhone(i)) + "'"
					cc, verified = "'86'", ts(c.Add(time.Hour))
				}
				last := "NULL"
				if i%10 != 0 {
					last = ts(c.Add(time.Duration(i%97) * now.Sub(c) / 97))
				}
				disabled := 0
				if i%100 == 7 {
					disabled = 1
				}
				fmt.Fprintf(b, "(%d,%s,%s,%s,%s,%s,%s,%s,%s,%d)", userID(i), phone, pure, cc, suffix, verified, ts(c), ts(c), last, disabled)
				return true
			})
	})
	g.Go(func() error {
		return insert(gctx, db, o.batch, "open_ids (id, appid, openid, created_at, updated_at, user_id)", n,
			func(i int, b *strings.Builder) bool {
				c := ts(createdAt(i, n))
				a := i % o.apps
				fmt.Fprintf(b, "(%d,'%s','%s',%s,%s,%d)", openIDBase+1+int64(i), appID(a), openIDOf(i, a), c, c, userID(i))
				return true
			})
	})
	g.Go(func() error {
		next := openIDBase + 1 + int64(n)
		return insert(gctx, db, o.batch, "open_ids (id, appid, openid, created_at, updated_at, user_id)", n,
			func(i int, b *strings.Builder) bool {
				if o.apps < 2 || !every(i, o.secondOpenID) {
					return false
				}
				c := ts(createdAt(i, n).Add(24 * time.Hour))
				a := (i + 1) % o.apps
				fmt.Fprintf(b, "(%d,'%s','%s',%s,%s,%d)", next, appID(a), openIDOf(i, a), c, c, userID(i))
				next++
				return true
			})
	})
	g.Go(func() error {
		return insert(gctx, db, o.batch, "union_ids (id, unionid, created_at, user_id)", n,
			func(i int, b *strings.Builder) bool {
				if !every(i, o.unionIDs) {
					return false
				}
				fmt.Fprintf(b, "(%d,'%s',%s,%d)", unionIDBase+1+int64(i), unionIDOf(i), ts(createdAt(i, n)), userID(i))
				return true
			})
	})
	g.Go(func() error {
		s := max(o.sessions, 0)
		return insert(gctx, db, o.batch, "sessions (id, token_hash, family, created_at, expires_at, absolute_expires_at, last_refreshed_at, revoked_at, client_ip, user_agent, open_id_id, user_id)", n*s,
			func(k int, b *strings.Builder) bool {
				i, j := k/s, k%s
				sum := sha256.Sum256(fmt.Appendf(nil, "scale-session-%d", k))
				// Even sessions expired long ago (the purge backlog), odd
				// ones are live; one in ten live ones is revoked.
				created := now.Add(-time.Duration(k%600) * time.Minute)
				if j%2 == 0 {
					created = now.Add(-72*time.Hour - time.Duration(k%(24*60))*time.Minute)
				}
				revoked := "NULL"
				if j%2 == 1 && i%10 == 3 {
					revoked = ts(created.Add(time.Minute))
				}
				fmt.Fprintf(b, "(%d,X'%s',X'%s',%s,%s,%s,%s,%s,'10.%d.%d.%d','Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0.47',%d,%d)",
					sessionBase+1+int64(k), hex.EncodeToString(sum[:]), hex.EncodeToString(sum[:16]),
					ts(created), ts(created.Add(30*time.Minute)), ts(created.Add(720*time.Hour)), ts(created), revoked,
					i%250, (i/250)%250, i%200+1, openIDBase+1+int64(i), userID(i))
				return true
			})
	})
	if err := g.Wait(); err != nil {
		return err
	}
	for _, t := range []string{"users", "open_ids", "union_ids", "sessions"} {
		if _, err := db.ExecContext(ctx, "ANALYZE TABLE "+t); err != nil {
			return fmt.Errorf("analyzing %s: %w", t, err)
		}
	}
	return nil
}

// insert writes the rows row makes for 0..n-1 (row returns false to skip
// one) into table, batch rows per statement.
func insert(ctx context.Context, db *sql.DB, batch int, table string, n int, row func(int, *strings.Builder) bool) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	var b strings.Builder
	rows := 0
	flush := func() error {
		if rows == 0 {
			return nil
		}
		if _, err := conn.ExecContext(ctx, b.String()); err != nil {
			return fmt.Errorf("inserting into %s: %w", table, err)
		}
		b.Reset()
		rows = 0
		return nil
	}
	var r strings.Builder
	for i := range n {
		r.Reset()
		if !row(i, &r) {
			continue
		}
		if rows == 0 {
			b.WriteString("INSERT INTO " + table + " VALUES ")
		} else {
			b.WriteByte(',')
		}
		b.WriteString(r.String())
		rows++
		if rows >= batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
