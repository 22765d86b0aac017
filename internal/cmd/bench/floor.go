package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/go-sql-driver/mysql"
)

// The floor is what a careful engineer would write by hand for `me`: the
// bearer token's SHA-256 looked up in memcached (one get), the user read by
// primary key (one select), JSON out. It is the bound wxid is measured
// against; it has no GraphQL, no middleware and no logging.
type floor struct {
	mc *memcache.Client
	db *sql.DB
}

// floorEntry is the floor's cache entry for one token.
type floorEntry struct {
	UserID  int64  `json:"u"`
	UnionID string `json:"n,omitempty"`
}

func runFloor(args []string) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	dsn := fs.String("dsn", "", "database DSN (go-sql-driver form)")
	mc := fs.String("memcached", "", "memcached host:port")
	seed := fs.String("seed", "", "file of 'skey userID unionID' lines to cache")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := mysql.ParseDSN(*dsn)
	if err != nil {
		return err
	}
	cfg.ParseTime = true
	cfg.InterpolateParams = true
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(64)
	db.SetMaxIdleConns(64)
	f := &floor{mc: memcache.New(*mc), db: db}
	f.mc.MaxIdleConns = 256
	f.mc.Timeout = 150 * time.Millisecond
	if err := f.load(*seed); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /graphql", f.me)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}

func (f *floor) load(path string) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = file.Close() }()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		if len(parts) < 2 {
			continue
		}
		var e floorEntry
		if _, err := fmt.Sscan(parts[1], &e.UserID); err != nil {
			return fmt.Errorf("seed line %q: %w", sc.Text(), err)
		}
		if len(parts) > 2 {
			e.UnionID = parts[2]
		}
		b, _ := json.Marshal(e)
		if err := f.mc.Set(&memcache.Item{Key: floorKey(parts[0]), Value: b, Expiration: 3600}); err != nil {
			return fmt.Errorf("caching the seed: %w", err)
		}
	}
	return sc.Err()
}

func floorKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "floor:s:" + hex.EncodeToString(sum[:])
}

func (f *floor) me(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		http.Error(w, `{"errors":[{"message":"no token"}]}`, http.StatusUnauthorized)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	it, err := f.mc.Get(floorKey(token))
	if err != nil {
		http.Error(w, `{"errors":[{"message":"unknown token"}]}`, http.StatusUnauthorized)
		return
	}
	var e floorEntry
	if err := json.Unmarshal(it.Value, &e); err != nil {
		http.Error(w, `{"errors":[{"message":"bad entry"}]}`, http.StatusInternalServerError)
		return
	}
	var (
		id    int64
		phone sql.NullString
	)
	err = f.db.QueryRowContext(ctx, "SELECT id, phone_number FROM users WHERE id = ?", e.UserID).Scan(&id, &phone)
	if errors.Is(err, sql.ErrNoRows) {
		http.Error(w, `{"errors":[{"message":"no user"}]}`, http.StatusUnauthorized)
		return
	}
	if err != nil {
		http.Error(w, `{"errors":[{"message":"internal"}]}`, http.StatusInternalServerError)
		return
	}
	type me struct {
		ID          string  `json:"id"`
		UnionID     *string `json:"unionId"`
		PhoneNumber *string `json:"phoneNumber"`
	}
	out := me{ID: fmt.Sprint(id)}
	if e.UnionID != "" {
		out.UnionID = &e.UnionID
	}
	if phone.Valid {
		out.PhoneNumber = &phone.String
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"me": out}})
}
