// Package sealer encrypts secrets at rest (WeChat session_keys, rotated
// skeys) with AES-256-GCM under WXID_SECRET_KEY.
//
// A Sealer holds the current key and any number of previous keys
// (WXID_SECRET_KEY_PREVIOUS): it seals with the current key and opens with
// any of them, so the secret key can be rotated without losing what was
// sealed under the old one. Keys for other purposes (MACs, say) come from
// Derive, which follows the same rule.
package sealer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a secret key in bytes.
const KeySize = 32

// ErrOpen is returned when a sealed value does not open under any of the
// keys: it was sealed under another key, for another purpose, or was
// tampered with.
var ErrOpen = errors.New("sealer: cannot open sealed value")

// Sealer seals values with the current key and opens them with the current
// or a previous key. It is safe for concurrent use.
type Sealer struct {
	raw  [][]byte // raw keys, current first (for Derive)
	keys []cipher.AEAD
}

// New returns a Sealer that seals under key and opens under key or any of
// previous. Every key is 32 bytes.
func New(key []byte, previous ...[]byte) (*Sealer, error) {
	s := &Sealer{}
	for i, k := range append([][]byte{key}, previous...) {
		if len(k) != KeySize {
			if i == 0 {
				return nil, fmt.Errorf("sealer: key must be %d bytes, got %d", KeySize, len(k))
			}
			return nil, fmt.Errorf("sealer: previous key %d must be %d bytes, got %d", i, KeySize, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("sealer: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("sealer: %w", err)
		}
		s.keys = append(s.keys, aead)
		s.raw = append(s.raw, append([]byte(nil), k...))
	}
	return s, nil
}

// ParseKey decodes a base64 (standard or URL alphabet, padded or not) key of
// 32 bytes, the form WXID_SECRET_KEY takes.
func ParseKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil {
			if len(key) != KeySize {
				return nil, fmt.Errorf("secret key must decode to %d bytes, got %d", KeySize, len(key))
			}
			return key, nil
		}
	}
	return nil, errors.New("secret key is not valid base64")
}

// ParseKeys decodes a comma-separated list of keys in ParseKey's form, the
// form WXID_SECRET_KEY_PREVIOUS takes. Empty entries are skipped.
func ParseKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for i, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		key, err := ParseKey(part)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// GenerateKey returns a fresh random key.
func GenerateKey() []byte {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		panic(fmt.Sprintf("sealer: crypto/rand failed: %v", err)) // crypto/rand never fails on supported platforms
	}
	return key
}

// Seal encrypts plaintext under the current key. aad binds the result to
// its context (for example the row it is stored in) so it cannot be moved
// elsewhere; Open needs the same aad.
func (s *Sealer) Seal(plaintext, aad []byte) []byte {
	aead := s.keys[0]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("sealer: crypto/rand failed: %v", err))
	}
	return aead.Seal(nonce, nonce, plaintext, aad)
}

// Open decrypts a value made by Seal with the same aad under the current
// key or any previous one.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	for _, aead := range s.keys {
		n := aead.NonceSize()
		if len(sealed) < n+aead.Overhead() {
			return nil, ErrOpen
		}
		if plain, err := aead.Open(nil, sealed[:n], sealed[n:], aad); err == nil {
			return plain, nil
		}
	}
	return nil, ErrOpen
}

// Derive returns 32-byte keys for purpose (HKDF-SHA256 of each secret key
// with purpose as the info), the current key's first. Whatever is
// authenticated under a derived key should be made with the first and
// accepted under any of them, so that rotating WXID_SECRET_KEY invalidates
// nothing while the old key is listed in WXID_SECRET_KEY_PREVIOUS. Different
// purposes give independent keys, and none of them is the sealing key.
func (s *Sealer) Derive(purpose string) [][]byte {
	out := make([][]byte, len(s.raw))
	for i, k := range s.raw {
		d, err := hkdf.Key(sha256.New, k, nil, "wxid/"+purpose, KeySize)
		if err != nil {
			panic(fmt.Sprintf("sealer: hkdf: %v", err)) // only for lengths HKDF-SHA256 cannot produce
		}
		out[i] = d
	}
	return out
}
