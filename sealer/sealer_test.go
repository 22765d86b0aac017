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
