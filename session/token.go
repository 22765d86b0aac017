package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// tokenBytes is the entropy of an skey.
const tokenBytes = 32

// TokenLen is the length of an skey: 32 random bytes, base64url unpadded.
var TokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)

// NewToken returns a fresh skey: 32 bytes from crypto/rand, URL-safe.
func NewToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("reading crypto/rand: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash returns the lowercase hex SHA-256 of an skey: what the database
// stores and what cache keys are made of.
func Hash(skey string) string {
	sum := sha256.Sum256([]byte(skey))
	return hex.EncodeToString(sum[:])
}

// WellFormed reports whether s has the shape of an skey, so that garbage is
// refused without a cache or database lookup.
func WellFormed(s string) bool {
	if len(s) != TokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// CacheKey is the cache key of the session with skey hash hash.
func CacheKey(hash string) string { return "wxid:s:" + hash }
