package users

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestViewRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	later := at.Add(time.Hour)
	merged := 42
	full := viewRecord{ID: 12884901888, Version: 7, Expires: later.UnixNano(),
		PhoneNumber: ptr("+8613800138000"), PurePhoneNumber: ptr("13800138000"), CountryCode: ptr("86"),
		PhoneVerifiedAt: &at, Nickname: ptr("小明 🐼"), AvatarURL: ptr("https://img.example/a.png"),
		CreatedAt: at, UpdatedAt: later, LastLoginAt: &later, Disabled: true, MergedIntoID: &merged, ErasedAt: &at,
		UnionID: "union-1",
		OpenIDs: []viewOpenID{{ID: 1, AppID: "wx1", OpenID: "o-1", CreatedAt: at}, {ID: 2, AppID: "wx2", OpenID: "o-2", CreatedAt: later}}}
	empty := viewRecord{ID: 1, Version: 1, CreatedAt: at, UpdatedAt: at, OpenIDs: []viewOpenID{}}
	for _, r := range []viewRecord{full, empty} {
		b := r.marshal(nil)
		var got viewRecord
		require.NoError(t, got.unmarshal(b))
		require.Equal(t, r, got)
		// Every truncation, and trailing bytes, fail cleanly.
		for i := range b {
			require.ErrorIs(t, (&viewRecord{}).unmarshal(b[:i]), errRecord, "prefix of %d bytes", i)
		}
		require.ErrorIs(t, (&viewRecord{}).unmarshal(append(b, 0)), errRecord)
	}
	// A huge announced count of openids does not allocate it.
	b := empty.marshal(nil)
	b = append(b[:len(b)-1], 0xff, 0xff, 0xff, 0xff, 0x0f)
	require.ErrorIs(t, (&viewRecord{}).unmarshal(b), errRecord)
}
