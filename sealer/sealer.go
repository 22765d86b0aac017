// Package sealer encrypts secrets at rest (WeChat session_keys, rotated
// skeys) with AES-256-GCM under WXID_SECRET_KEY.
package sealer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// KeySize is the length of a secret key in bytes.
const KeySize = 32

// ErrOpen is returned when a sealed value does not open under the key: it
// was sealed under another key, for another purpose, or was tampered with.
var ErrOpen = errors.New("sealer: cannot open sealed value")

// Sealer seals and opens values with one AES-256-GCM key. It is safe for
// concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// New returns a Sealer for a 32-byte key.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("sealer: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealer: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
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

// GenerateKey returns a fresh random key.
func GenerateKey() []byte {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		panic(fmt.Sprintf("sealer: crypto/rand failed: %v", err)) // crypto/rand never fails on supported platforms
	}
	return key
}

// Seal encrypts plaintext. aad binds the result to its context (for example
// the row it is stored in) so it cannot be moved elsewhere; Open needs the
// same aad.
func (s *Sealer) Seal(plaintext, aad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("sealer: crypto/rand failed: %v", err))
	}
	return s.aead.Seal(nonce, nonce, plaintext, aad)
}

// Open decrypts a value made by Seal with the same aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
