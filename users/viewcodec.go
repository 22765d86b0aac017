package users

import (
	"encoding/binary"
	"errors"
	"time"
)

// A view's payload is a compact binary record, cheaper to decode on every
// `me` than JSON: unsigned and signed varints, strings as a length and
// bytes, times as Unix nanoseconds (UTC), and a bit set saying which of
// the optional fields follow.
//
//	id version expires flags
//	[phone] [purePhone] [countryCode] [phoneVerifiedAt] [nickname] [avatarURL]
//	[lastLoginAt] [mergedIntoID] [erasedAt] [unionID]
//	createdAt updatedAt len(openids) (id appid openid createdAt)*

// Bits of a record's flags.
const (
	hasPhone = 1 << iota
	hasPurePhone
	hasCountryCode
	hasPhoneVerifiedAt
	hasNickname
	hasAvatarURL
	hasLastLoginAt
	isDisabled
	hasMergedIntoID
	hasErasedAt
	hasUnionID
)

// errRecord is a payload that does not decode (never one wxid sealed).
var errRecord = errors.New("users: malformed cached view")

// maxOpenIDs bounds the openids a payload may announce, so that a length
// cannot make the decoder allocate without bound.
const maxOpenIDs = 1 << 16

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendTime(b []byte, t time.Time) []byte { return binary.AppendVarint(b, t.UnixNano()) }

// flags says which of r's optional fields are set.
func (r *viewRecord) flags() uint64 {
	var flags uint64
	for _, f := range [...]struct {
		bit uint64
		on  bool
	}{
		{hasPhone, r.PhoneNumber != nil}, {hasPurePhone, r.PurePhoneNumber != nil}, {hasCountryCode, r.CountryCode != nil},
		{hasPhoneVerifiedAt, r.PhoneVerifiedAt != nil}, {hasNickname, r.Nickname != nil}, {hasAvatarURL, r.AvatarURL != nil},
		{hasLastLoginAt, r.LastLoginAt != nil}, {isDisabled, r.Disabled}, {hasMergedIntoID, r.MergedIntoID != nil},
		{hasErasedAt, r.ErasedAt != nil}, {hasUnionID, r.UnionID != ""},
	} {
		if f.on {
			flags |= f.bit
		}
	}
	return flags
}

// marshal appends r's encoding to b.
func (r *viewRecord) marshal(b []byte) []byte {
	flags := r.flags()
	b = binary.AppendUvarint(b, uint64(r.ID))
	b = binary.AppendVarint(b, r.Version)
	b = binary.AppendVarint(b, r.Expires)
	b = binary.AppendUvarint(b, flags)
	for _, s := range []*string{r.PhoneNumber, r.PurePhoneNumber, r.CountryCode} {
		if s != nil {
			b = appendString(b, *s)
		}
	}
	if r.PhoneVerifiedAt != nil {
		b = appendTime(b, *r.PhoneVerifiedAt)
	}
	for _, s := range []*string{r.Nickname, r.AvatarURL} {
		if s != nil {
			b = appendString(b, *s)
		}
	}
	if r.LastLoginAt != nil {
		b = appendTime(b, *r.LastLoginAt)
	}
	if r.MergedIntoID != nil {
		b = binary.AppendUvarint(b, uint64(*r.MergedIntoID))
	}
	if r.ErasedAt != nil {
		b = appendTime(b, *r.ErasedAt)
	}
	if r.UnionID != "" {
		b = appendString(b, r.UnionID)
	}
	b = appendTime(b, r.CreatedAt)
	b = appendTime(b, r.UpdatedAt)
	b = binary.AppendUvarint(b, uint64(len(r.OpenIDs)))
	for _, o := range r.OpenIDs {
		b = binary.AppendUvarint(b, uint64(o.ID))
		b = appendString(b, o.AppID)
		b = appendString(b, o.OpenID)
		b = appendTime(b, o.CreatedAt)
	}
	return b
}

// decoder reads a payload; the first failure sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errRecord
	}
	d.b = nil
}

func (d *decoder) int() int { return int(d.uvarint()) }

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) time() time.Time { return time.Unix(0, d.varint()).UTC() }

func (d *decoder) optString(flags, bit uint64) *string {
	if flags&bit == 0 {
		return nil
	}
	s := d.string()
	return &s
}

func (d *decoder) optTime(flags, bit uint64) *time.Time {
	if flags&bit == 0 {
		return nil
	}
	t := d.time()
	return &t
}

// unmarshal decodes a payload made by marshal.
func (r *viewRecord) unmarshal(b []byte) error {
	d := &decoder{b: b}
	r.ID, r.Version, r.Expires = d.int(), d.varint(), d.varint()
	flags := d.uvarint()
	r.PhoneNumber = d.optString(flags, hasPhone)
	r.PurePhoneNumber = d.optString(flags, hasPurePhone)
	r.CountryCode = d.optString(flags, hasCountryCode)
	r.PhoneVerifiedAt = d.optTime(flags, hasPhoneVerifiedAt)
	r.Nickname = d.optString(flags, hasNickname)
	r.AvatarURL = d.optString(flags, hasAvatarURL)
	r.LastLoginAt = d.optTime(flags, hasLastLoginAt)
	r.Disabled = flags&isDisabled != 0
	if flags&hasMergedIntoID != 0 {
		id := d.int()
		r.MergedIntoID = &id
	}
	r.ErasedAt = d.optTime(flags, hasErasedAt)
	if flags&hasUnionID != 0 {
		r.UnionID = d.string()
	}
	r.CreatedAt, r.UpdatedAt = d.time(), d.time()
	n := d.uvarint()
	if n > maxOpenIDs {
		d.fail()
	}
	if d.err != nil {
		return d.err
	}
	r.OpenIDs = make([]viewOpenID, n)
	for i := range r.OpenIDs {
		r.OpenIDs[i] = viewOpenID{ID: d.int(), AppID: d.string(), OpenID: d.string(), CreatedAt: d.time()}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	return d.err
}
