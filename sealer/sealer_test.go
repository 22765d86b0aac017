package sealer

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSealOpen(t *testing.T) {
	s, err := New(GenerateKey())
	require.NoError(t, err)
	other, err := New(GenerateKey())
	require.NoError(t, err)

	sealed := s.Seal([]byte("session-key"), []byte("wx1/openid"))
	require.NotContains(t, string(sealed), "session-key")

	plain, err := s.Open(sealed, []byte("wx1/openid"))
	require.NoError(t, err)
	require.Equal(t, "session-key", string(plain))

	tests := []struct {
		name   string
		s      *Sealer
		sealed []byte
		aad    string
	}{
		{"wrong aad", s, sealed, "wx1/other"},
		{"wrong key", other, sealed, "wx1/openid"},
		{"truncated", s, sealed[:10], "wx1/openid"},
		{"empty", s, nil, "wx1/openid"},
		{"tampered", s, append(append([]byte{}, sealed[:len(sealed)-1]...), sealed[len(sealed)-1]^1), "wx1/openid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.s.Open(tc.sealed, []byte(tc.aad))
			require.ErrorIs(t, err, ErrOpen)
		})
	}
}

func TestParseKey(t *testing.T) {
	key := GenerateKey()
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		got, err := ParseKey(enc.EncodeToString(key))
		require.NoError(t, err)
		require.Equal(t, key, got)
	}
	_, err := ParseKey(base64.StdEncoding.EncodeToString(key[:16]))
	require.Error(t, err)
	_, err = ParseKey("not base64 at all!")
	require.Error(t, err)
	_, err = New(key[:16])
	require.Error(t, err)
}

func TestRotation(t *testing.T) {
	a, b, c := GenerateKey(), GenerateKey(), GenerateKey()
	underA, err := New(a)
	require.NoError(t, err)
	sealedA := underA.Seal([]byte("old"), []byte("aad"))

	rotated, err := New(b, c, a)
	require.NoError(t, err)
	plain, err := rotated.Open(sealedA, []byte("aad"))
	require.NoError(t, err, "a previous key still opens")
	require.Equal(t, "old", string(plain))
	_, err = rotated.Open(sealedA, []byte("other aad"))
	require.ErrorIs(t, err, ErrOpen, "the aad binds under a previous key too")

	sealedB := rotated.Seal([]byte("new"), []byte("aad"))
	_, err = underA.Open(sealedB, []byte("aad"))
	require.ErrorIs(t, err, ErrOpen, "new values are sealed under the current key, not a previous one")
	onlyB, err := New(b)
	require.NoError(t, err)
	plain, err = onlyB.Open(sealedB, []byte("aad"))
	require.NoError(t, err)
	require.Equal(t, "new", string(plain))

	_, err = onlyB.Open(sealedA, []byte("aad"))
	require.ErrorIs(t, err, ErrOpen, "once the old key is dropped its values no longer open")

	_, err = New(b, a[:31])
	require.ErrorContains(t, err, "previous key 1")
}

func TestDerive(t *testing.T) {
	a, b := GenerateKey(), GenerateKey()
	s, err := New(b, a)
	require.NoError(t, err)
	old, err := New(a)
	require.NoError(t, err)

	keys := s.Derive("skey-mac")
	require.Len(t, keys, 2)
	require.Equal(t, old.Derive("skey-mac")[0], keys[1], "a previous key derives what it derived when it was current")
	require.NotEqual(t, keys[0], keys[1])
	require.NotEqual(t, s.Derive("cache-mac")[0], keys[0], "purposes give independent keys")
	require.NotEqual(t, b, keys[0], "a derived key is not the secret key")
	require.Equal(t, keys, s.Derive("skey-mac"), "derivation is deterministic")
}

func TestParseKeys(t *testing.T) {
	a, b := GenerateKey(), GenerateKey()
	keys, err := ParseKeys(" " + base64.StdEncoding.EncodeToString(a) + ",," + base64.RawURLEncoding.EncodeToString(b) + " ")
	require.NoError(t, err)
	require.Equal(t, [][]byte{a, b}, keys)
	keys, err = ParseKeys("")
	require.NoError(t, err)
	require.Empty(t, keys)
	_, err = ParseKeys(base64.StdEncoding.EncodeToString(a) + ",nope")
	require.ErrorContains(t, err, "key 2")
}
