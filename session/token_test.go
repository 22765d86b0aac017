package session

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/sealer"
)

func testKeys(t testing.TB, secrets ...string) *Keys {
	t.Helper()
	var bs [][]byte
	for _, s := range secrets {
		bs = append(bs, []byte(strings.Repeat(s, 32)[:32]))
	}
	seal, err := sealer.New(bs[0], bs[1:]...)
	require.NoError(t, err)
	return NewKeys(seal)
}

func TestNewToken(t *testing.T) {
	k := testKeys(t, "a")
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		tok, err := k.NewToken()
		require.NoError(t, err)
		require.Len(t, tok, TokenLen)
		require.Equal(t, 54, TokenLen)
		require.True(t, k.Verify(tok))
		require.False(t, seen[tok])
		seen[tok] = true
	}
}

func TestVerifyRefusesWhatWxidDidNotIssue(t *testing.T) {
	k := testKeys(t, "a")
	good, err := k.NewToken()
	require.NoError(t, err)
	raw, err := base64.RawURLEncoding.DecodeString(good)
	require.NoError(t, err)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	other, err := testKeys(t, "b").NewToken()
	require.NoError(t, err)
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"random bytes of the right length", base64.RawURLEncoding.EncodeToString(make([]byte, tokenBytes))},
		{"a bit of the random part flipped", flip(0)},
		{"a bit of the tag flipped", flip(tokenBytes - 1)},
		{"signed with another secret key", other},
		{"the old 43-character format", strings.Repeat("a", 43)},
		{"one character short", good[:len(good)-1]},
		{"one character long", good + "a"},
		{"standard base64", strings.ReplaceAll(strings.ReplaceAll(good, "-", "+"), "_", "/") + "+"},
		{"padding", good[:len(good)-1] + "="},
		{"non-ascii", good[:len(good)-2] + "é"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.False(t, k.Verify(tc.in))
		})
	}
	require.True(t, k.Verify(good))
}

func TestVerifyNonCanonicalBase64(t *testing.T) {
	// 40 bytes encode to 54 characters whose last one carries 2 spare bits:
	// a different last character can decode to the same bytes. Only the
	// canonical spelling is the skey.
	k := testKeys(t, "a")
	for i := 0; i < 50; i++ {
		tok, err := k.NewToken()
		require.NoError(t, err)
		last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", tok[len(tok)-1])
		alt := tok[:len(tok)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last^1])
		require.False(t, k.Verify(alt), "non-canonical spelling of %s", tok)
	}
}

func TestKeyRotation(t *testing.T) {
	oldKeys := testKeys(t, "old")
	tok, err := oldKeys.NewToken()
	require.NoError(t, err)

	rotated := testKeys(t, "new", "old") // WXID_SECRET_KEY=new, WXID_SECRET_KEY_PREVIOUS=old
	require.True(t, rotated.Verify(tok), "skeys issued under the previous key keep working")
	fresh, err := rotated.NewToken()
	require.NoError(t, err)
	require.False(t, oldKeys.Verify(fresh), "new skeys are signed with the new key")
	require.False(t, testKeys(t, "new").Verify(tok), "once the old key is dropped, its skeys stop")
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

func BenchmarkVerify(b *testing.B) {
	k := testKeys(b, "a")
	tok, _ := k.NewToken()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !k.Verify(tok) {
			b.Fatal("refused")
		}
	}
}
