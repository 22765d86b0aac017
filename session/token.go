package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"

	"github.com/wxid/wxid/sealer"
)

// An skey is 24 random bytes followed by a 16-byte tag, URL-safe base64
// without padding (54 characters):
//
//	skey = base64url( random[24] || HMAC-SHA256(Kt, "wxid skey v1" || random)[:16] )
//
// Kt is derived from WXID_SECRET_KEY (HKDF-SHA256, info "wxid/skey"; see
// sealer.Derive), so
// only wxid can mint an skey that verifies, and an skey wxid did not issue
// is refused before any cache or database lookup: guessing one costs the
// guesser, not wxid. The random part alone carries 192 bits, so skeys stay
// unguessable even to someone who knows Kt; Kt only spares the backends.
const (
	tokenRandomBytes = 24
	tokenTagBytes    = 16
	tokenBytes       = tokenRandomBytes + tokenTagBytes
)

// TokenLen is the length of an skey.
var TokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)

// Keys mint and verify skeys and authenticate cache entries. They are
// derived from the secret keys (sealer.Derive): the current one signs, the
// current and the previous ones verify, so WXID_SECRET_KEY can be rotated
// (with the old key in WXID_SECRET_KEY_PREVIOUS) without logging anyone out.
type Keys struct {
	token []*macKey // skey tags: current first
	entry []*macKey // cache entry tags: current first
}

// NewKeys derives the skey and cache-entry keys from the sealer's secret
// keys.
func NewKeys(s *sealer.Sealer) *Keys {
	return &Keys{token: macKeys(s.Derive("skey")), entry: macKeys(s.Derive("session-cache-entry"))}
}

// macKey is an HMAC-SHA256 key with a pool of its hashes: every request
// verifies a tag or two, and a fresh HMAC costs several allocations.
type macKey struct{ pool sync.Pool }

func macKeys(keys [][]byte) []*macKey {
	out := make([]*macKey, len(keys))
	for i, key := range keys {
		key := key
		out[i] = &macKey{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
	}
	return out
}

// tag writes the first tokenTagBytes of the HMAC of parts into dst.
func (k *macKey) tag(dst *[tokenTagBytes]byte, parts ...[]byte) {
	m := k.pool.Get().(hash.Hash)
	m.Reset()
	for _, p := range parts {
		m.Write(p)
	}
	var sum [sha256.Size]byte
	copy(dst[:], m.Sum(sum[:0]))
	k.pool.Put(m)
}

var tokenDomain = []byte("wxid skey v1")

func tokenTag(key *macKey, random []byte) [tokenTagBytes]byte {
	var t [tokenTagBytes]byte
	key.tag(&t, tokenDomain, random)
	return t
}

// NewToken returns a fresh skey signed with the current key.
func (k *Keys) NewToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b[:tokenRandomBytes]); err != nil {
		return "", fmt.Errorf("reading crypto/rand: %w", err)
	}
	t := tokenTag(k.token[0], b[:tokenRandomBytes])
	copy(b[tokenRandomBytes:], t[:])
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Verify reports whether s is an skey wxid issued under the current or a
// previous key. It says nothing of whether the skey is still live.
func (k *Keys) Verify(s string) bool {
	if len(s) != TokenLen {
		return false
	}
	var b [tokenBytes]byte
	n, err := base64.RawURLEncoding.Decode(b[:], []byte(s))
	if err != nil || n != tokenBytes {
		return false
	}
	// Decode accepts a non-canonical last character; an skey has exactly
	// one spelling, so that its hash is exactly one row.
	var canonical [54]byte // TokenLen
	base64.RawURLEncoding.Encode(canonical[:], b[:])
	if string(canonical[:]) != s {
		return false
	}
	for _, key := range k.token {
		if t := tokenTag(key, b[:tokenRandomBytes]); hmac.Equal(t[:], b[tokenRandomBytes:]) {
			return true
		}
	}
	return false
}

// Hash returns the lowercase hex SHA-256 of an skey: what the database
// stores and what cache keys are made of.
func Hash(skey string) string {
	sum := sha256.Sum256([]byte(skey))
	return hex.EncodeToString(sum[:])
}

// CacheKey is the cache key of the session with skey hash hash.
func CacheKey(hash string) string { return "wxid:s:" + hash }
