package session

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		tok, err := NewToken()
		require.NoError(t, err)
		require.Len(t, tok, 43)
		require.True(t, WellFormed(tok))
		require.False(t, seen[tok])
		seen[tok] = true
	}
}

func TestWellFormed(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"url-safe alphabet", strings.Repeat("aZ09-_", 7) + "x", true},
		{"empty", "", false},
		{"short", strings.Repeat("a", 42), false},
		{"long", strings.Repeat("a", 44), false},
		{"standard base64 plus", strings.Repeat("a", 42) + "+", false},
		{"padding", strings.Repeat("a", 42) + "=", false},
		{"space", strings.Repeat("a", 42) + " ", false},
		{"non-ascii", strings.Repeat("a", 41) + "é", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, WellFormed(tc.in))
		})
	}
}

func TestHash(t *testing.T) {
	// SHA-256("abc"), the FIPS 180-2 test vector.
	require.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Hash("abc"))
	require.Equal(t, "wxid:s:"+Hash("abc"), CacheKey(Hash("abc")))
}

func TestTruncate(t *testing.T) {
	require.Equal(t, "abc", truncate("abc", 5))
	require.Equal(t, "ab", truncate("abc", 2))
	require.Equal(t, "a", truncate("aé", 2), "never cuts a rune in half")
}
