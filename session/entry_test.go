package session

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCacheEntries(t *testing.T) {
	k := testKeys(t, "a")
	info := Info{ID: 7, UserID: 3, OpenIDID: 5, AppID: "wxa", OpenID: "o-1",
		ExpiresAt: time.Unix(1700000000, 0).UTC(), AbsoluteExpiresAt: time.Unix(1800000000, 0).UTC()}
	keyA, keyB := CacheKey(Hash("skey-a")), CacheKey(Hash("skey-b"))

	live, err := k.sealEntry(keyA, info)
	require.NoError(t, err)
	got, state := k.openEntry(keyA, live)
	require.Equal(t, entryIsLive, state)
	require.Equal(t, info, got)

	dead := k.tombstone(keyA)
	_, state = k.openEntry(keyA, dead)
	require.Equal(t, entryIsDead, state)

	t.Run("copied under another skey's key", func(t *testing.T) {
		_, state := k.openEntry(keyB, live)
		require.Equal(t, entryInvalid, state, "A's entry must not make B's skey answer as A")
		_, state = k.openEntry(keyB, dead)
		require.Equal(t, entryInvalid, state)
	})
	t.Run("edited", func(t *testing.T) {
		for i := range live {
			b := append([]byte(nil), live...)
			b[i] ^= 0x20
			_, state := k.openEntry(keyA, b)
			require.Equal(t, entryInvalid, state, "byte %d edited", i)
		}
		// A tombstone turned into a live entry, or the other way round.
		b := append([]byte(nil), dead...)
		b[0] = entryLive
		_, state := k.openEntry(keyA, b)
		require.Equal(t, entryInvalid, state)
	})
	t.Run("forged without the key", func(t *testing.T) {
		forged, err := testKeys(t, "attacker").sealEntry(keyA, Info{ID: 1, UserID: 1, ExpiresAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		_, state := k.openEntry(keyA, forged)
		require.Equal(t, entryInvalid, state)
	})
	t.Run("old formats and garbage", func(t *testing.T) {
		for _, b := range [][]byte{nil, {}, []byte("x"), []byte(`{"i":1,"u":1,"e":"2999-01-01T00:00:00Z"}`), make([]byte, 17)} {
			_, state := k.openEntry(keyA, b)
			require.Equal(t, entryInvalid, state, "%q", b)
		}
	})
	t.Run("written under the previous key", func(t *testing.T) {
		rotated := testKeys(t, "new", "a")
		got, state := rotated.openEntry(keyA, live)
		require.Equal(t, entryIsLive, state)
		require.Equal(t, info, got)
		fresh, err := rotated.sealEntry(keyA, info)
		require.NoError(t, err)
		_, state = k.openEntry(keyA, fresh)
		require.Equal(t, entryInvalid, state, "new entries use the new key")
	})
}
