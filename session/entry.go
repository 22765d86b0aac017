package session

import (
	"crypto/hmac"
	"encoding/json"
	"fmt"
)

// A cache entry is authenticated and bound to the cache key it is stored
// under:
//
//	entry = kind || tag[16] || payload
//	tag   = HMAC-SHA256(Ke, "wxid session entry v1" || key || 0x00 || kind || payload)[:16]
//
// kind is 'L' for a live session (payload: the Info as JSON) or 'D' for a
// tombstone (no payload). Ke is derived from WXID_SECRET_KEY. Whoever can
// write to memcached can therefore neither forge an entry nor copy one
// skey's entry onto another skey's key: both fail the tag and count as a
// miss, and the database decides. Replaying an earlier entry of the same
// key is caught by the revocation feed.
const (
	entryLive = 'L'
	entryDead = 'D'
)

var entryDomain = []byte("wxid session entry v1")

// entryState is what a cache entry says about its skey.
type entryState int

const (
	entryInvalid entryState = iota // forged, damaged or from an unknown key: a miss
	entryIsLive
	entryIsDead
)

func entryTag(key *macKey, cacheKey string, kind byte, payload []byte) [tokenTagBytes]byte {
	var t [tokenTagBytes]byte
	sep := [2]byte{0, kind}
	key.tag(&t, entryDomain, []byte(cacheKey), sep[:], payload)
	return t
}

// sealEntry returns the live cache entry of info under cacheKey.
func (k *Keys) sealEntry(cacheKey string, info Info) ([]byte, error) {
	payload, err := json.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("encoding session cache entry: %w", err)
	}
	return k.seal(cacheKey, entryLive, payload), nil
}

// tombstone returns the cache entry of a dead skey under cacheKey.
func (k *Keys) tombstone(cacheKey string) []byte { return k.seal(cacheKey, entryDead, nil) }

func (k *Keys) seal(cacheKey string, kind byte, payload []byte) []byte {
	out := make([]byte, 0, 1+tokenTagBytes+len(payload))
	out = append(out, kind)
	t := entryTag(k.entry[0], cacheKey, kind, payload)
	out = append(out, t[:]...)
	return append(out, payload...)
}

// openEntry checks a cache entry read under cacheKey and decodes it.
func (k *Keys) openEntry(cacheKey string, b []byte) (Info, entryState) {
	if len(b) < 1+tokenTagBytes {
		return Info{}, entryInvalid
	}
	kind, tag, payload := b[0], b[1:1+tokenTagBytes], b[1+tokenTagBytes:]
	if kind != entryLive && kind != entryDead {
		return Info{}, entryInvalid
	}
	ok := false
	for _, key := range k.entry {
		if t := entryTag(key, cacheKey, kind, payload); hmac.Equal(t[:], tag) {
			ok = true
			break
		}
	}
	if !ok {
		return Info{}, entryInvalid
	}
	if kind == entryDead {
		return Info{}, entryIsDead
	}
	var info Info
	if err := json.Unmarshal(payload, &info); err != nil {
		return Info{}, entryInvalid
	}
	return info, entryIsLive
}
