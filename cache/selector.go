package cache

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/bradfitz/gomemcache/memcache"
)

// rendezvous is a memcache.ServerSelector using rendezvous (highest random
// weight) hashing: each key goes to the server whose hash of (server, key)
// is highest. Adding or removing one of N servers moves only about 1/N of
// the keys, where gomemcache's default crc32 % N moves most of them.
//
// Servers are identified by the strings they were configured with, so every
// wxid instance must list each server the same way (the order does not
// matter).
type rendezvous struct {
	addrs  []net.Addr
	hashes []uint64 // seed per server, from its configured name
}

var _ memcache.ServerSelector = (*rendezvous)(nil)

// staticAddr is a resolved address whose Network and String are fixed.
type staticAddr struct{ network, str string }

func (a staticAddr) Network() string { return a.network }
func (a staticAddr) String() string  { return a.str }

// newRendezvous resolves servers ("host:port", or a unix socket path). An
// empty list or a server that does not resolve is an error; duplicates are
// dropped.
func newRendezvous(servers []string) (*rendezvous, error) {
	r := &rendezvous{}
	seen := make(map[string]bool, len(servers))
	for _, s := range servers {
		s = strings.TrimSpace(s)
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		var addr net.Addr
		if strings.Contains(s, "/") {
			ua, err := net.ResolveUnixAddr("unix", s)
			if err != nil {
				return nil, fmt.Errorf("resolving memcached server %q: %w", s, err)
			}
			addr = staticAddr{ua.Network(), ua.String()}
		} else {
			ta, err := net.ResolveTCPAddr("tcp", s)
			if err != nil {
				return nil, fmt.Errorf("resolving memcached server %q: %w", s, err)
			}
			addr = staticAddr{ta.Network(), ta.String()}
		}
		r.addrs = append(r.addrs, addr)
		r.hashes = append(r.hashes, mix64(fnv1a(s)))
	}
	if len(r.addrs) == 0 {
		return nil, errors.New("no memcached servers configured")
	}
	return r, nil
}

// PickServer implements memcache.ServerSelector.
func (r *rendezvous) PickServer(key string) (net.Addr, error) {
	if len(r.addrs) == 1 {
		return r.addrs[0], nil
	}
	return r.addrs[r.pick(key)], nil
}

// pick returns the index of the server that owns key.
func (r *rendezvous) pick(key string) int {
	kh := fnv1a(key)
	best, bestW := 0, uint64(0)
	for i, sh := range r.hashes {
		if w := mix64(kh ^ sh); i == 0 || w > bestW {
			best, bestW = i, w
		}
	}
	return best
}

// Each implements memcache.ServerSelector.
func (r *rendezvous) Each(f func(net.Addr) error) error {
	for _, a := range r.addrs {
		if err := f(a); err != nil {
			return err
		}
	}
	return nil
}

// fnv1a is 64-bit FNV-1a, stable across processes and machines (unlike
// hash/maphash, whose seed is per process) and allocation free.
func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix64 is MurmurHash3's 64-bit finaliser: it spreads every input bit over
// the output, so per-server weights are independent.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
