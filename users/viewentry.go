package users

import (
	"fmt"
	"strconv"
	"time"

	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/sealer"
)

// A cached view is encrypted and authenticated, and bound to the cache key
// it is stored under:
//
//	entry = AES-256-GCM(Kv, nonce, kind || payload, aad = "wxid user view v1" || 0x00 || key)
//
// kind is 'V' for a view (payload: the viewRecord, viewcodec.go) or 'T' for a
// tombstone (no payload). Kv is derived from WXID_SECRET_KEY for this
// purpose only (sealer.Derive), and entries made under a key listed in
// WXID_SECRET_KEY_PREVIOUS still open. Whoever can write to memcached can
// therefore neither forge a view nor move one user's view onto another
// user's key, and whoever can read it learns no phone number: a forged,
// edited or moved entry fails to open, counts as a miss, and the database
// decides. A replayed older entry of the same key carries an older
// version, which the write feed refuses (viewfeed.go).
const (
	kindView      = 'V'
	kindTombstone = 'T'
)

// viewDomain separates the cache entries' additional data from any other
// use of the derived key.
const viewDomain = "wxid user view v1\x00"

// viewKeyPurpose is the sealer.Derive purpose of the view entries' key.
const viewKeyPurpose = "user-view-cache-entry"

// ViewKey is the cache key of a user's view.
func ViewKey(userID int) string { return "wxid:u:" + strconv.Itoa(userID) }

// viewRecord is what a cached view holds: everything `me` can select of
// the user (any selection is answered from one entry), its version, and
// the time after which it must not be used.
type viewRecord struct {
	ID              int
	Version         int64
	Expires         int64 // Unix nanoseconds
	PhoneNumber     *string
	PurePhoneNumber *string
	CountryCode     *string
	PhoneVerifiedAt *time.Time
	Nickname        *string
	AvatarURL       *string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	LastLoginAt     *time.Time
	Disabled        bool
	MergedIntoID    *int
	ErasedAt        *time.Time
	UnionID         string
	OpenIDs         []viewOpenID
}

// viewOpenID is one openid of a cached view.
type viewOpenID struct {
	ID        int
	AppID     string
	OpenID    string
	CreatedAt time.Time
}

// recordOf is the cached form of u, a folded view (Fold), valid until
// expires.
func recordOf(u *ent.User, expires time.Time) viewRecord {
	r := viewRecord{
		ID: u.ID, Version: u.Version, Expires: expires.UnixNano(),
		PhoneNumber: u.PhoneNumber, PurePhoneNumber: u.PurePhoneNumber, CountryCode: u.CountryCode,
		PhoneVerifiedAt: u.PhoneVerifiedAt, Nickname: u.Nickname, AvatarURL: u.AvatarURL,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastLoginAt: u.LastLoginAt,
		Disabled: u.Disabled, MergedIntoID: u.MergedIntoID, ErasedAt: u.ErasedAt,
		OpenIDs: make([]viewOpenID, 0, len(u.Edges.OpenIds)),
	}
	if un := u.Edges.UnionID; un != nil {
		r.UnionID = un.Unionid
	}
	for _, o := range u.Edges.OpenIds {
		r.OpenIDs = append(r.OpenIDs, viewOpenID{ID: o.ID, AppID: o.Appid, OpenID: o.Openid, CreatedAt: o.CreatedAt})
	}
	return r
}

// user is the *ent.User of a cached view, with its UnionID and OpenIds
// edges loaded, as Fold returns it.
func (r *viewRecord) user() *ent.User {
	u := &ent.User{
		ID: r.ID, Version: r.Version,
		PhoneNumber: r.PhoneNumber, PurePhoneNumber: r.PurePhoneNumber, CountryCode: r.CountryCode,
		PhoneVerifiedAt: r.PhoneVerifiedAt, Nickname: r.Nickname, AvatarURL: r.AvatarURL,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, LastLoginAt: r.LastLoginAt,
		Disabled: r.Disabled, MergedIntoID: r.MergedIntoID, ErasedAt: r.ErasedAt,
	}
	if r.UnionID == "" {
		u.Edges.SetUnionID(nil)
	} else {
		u.Edges.SetUnionID(&ent.UnionID{UserID: r.ID, Unionid: r.UnionID})
	}
	ids := make([]*ent.OpenID, len(r.OpenIDs))
	for i, o := range r.OpenIDs {
		ids[i] = &ent.OpenID{ID: o.ID, UserID: r.ID, Appid: o.AppID, Openid: o.OpenID, CreatedAt: o.CreatedAt}
	}
	u.Edges.SetOpenIds(ids)
	return u
}

// viewSealer seals and opens cached views under the derived keys.
type viewSealer struct{ s *sealer.Sealer }

// newViewSealer derives the view entries' keys from s.
func newViewSealer(s *sealer.Sealer) viewSealer {
	keys := s.Derive(viewKeyPurpose)
	vs, err := sealer.New(keys[0], keys[1:]...)
	if err != nil {
		panic(fmt.Sprintf("users: derived keys: %v", err)) // Derive returns keys of the right size
	}
	return viewSealer{s: vs}
}

func aad(key string) []byte { return append([]byte(viewDomain), key...) }

// seal returns the view entry of r under key.
func (v viewSealer) seal(key string, r viewRecord) []byte {
	return v.s.Seal(r.marshal(append(make([]byte, 0, 256), kindView)), aad(key))
}

// tombstone returns the tombstone entry of key.
func (v viewSealer) tombstone(key string) []byte {
	return v.s.Seal([]byte{kindTombstone}, aad(key))
}

// entryState is what a cache entry says.
type entryState int

const (
	entryInvalid   entryState = iota // forged, edited, moved, or under an unknown key
	entryView                        // a view
	entryTombstone                   // a tombstone: read the database, cache nothing
)

// open checks an entry read under key and decodes it.
func (v viewSealer) open(key string, b []byte) (viewRecord, entryState) {
	plain, err := v.s.Open(b, aad(key))
	if err != nil || len(plain) == 0 {
		return viewRecord{}, entryInvalid
	}
	switch plain[0] {
	case kindTombstone:
		if len(plain) != 1 {
			return viewRecord{}, entryInvalid
		}
		return viewRecord{}, entryTombstone
	case kindView:
		var r viewRecord
		if err := r.unmarshal(plain[1:]); err != nil {
			return viewRecord{}, entryInvalid
		}
		return r, entryView
	}
	return viewRecord{}, entryInvalid
}
