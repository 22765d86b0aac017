package cache

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/stretchr/testify/require"
)

func servers(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("10.0.0.%d:11211", i+1)
	}
	return s
}

func keys(n int) []string {
	k := make([]string, n)
	for i := range k {
		k[i] = fmt.Sprintf("wxid:session:%064x", i*2654435761)
	}
	return k
}

func TestRendezvousDistribution(t *testing.T) {
	for _, n := range []int{2, 3, 4, 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r, err := newRendezvous(servers(n))
			require.NoError(t, err)
			const total = 60_000
			counts := make([]int, n)
			for _, k := range keys(total) {
				counts[r.pick(k)]++
			}
			for i, c := range counts {
				require.InEpsilon(t, total/n, c, 0.05, "server %d got %d of %d keys", i, c, total)
			}
		})
	}
}

func TestRendezvousAddServer(t *testing.T) {
	const total = 60_000
	three, err := newRendezvous(servers(3))
	require.NoError(t, err)
	four, err := newRendezvous(servers(4))
	require.NoError(t, err)

	var crc3, crc4 memcache.ServerList
	require.NoError(t, crc3.SetServers(servers(3)...))
	require.NoError(t, crc4.SetServers(servers(4)...))

	moved, crcMoved := 0, 0
	for _, k := range keys(total) {
		before, after := three.pick(k), four.pick(k)
		if before != after {
			moved++
			require.Equal(t, 3, after, "a key only ever moves to the new server")
		}
		a, _ := crc3.PickServer(k)
		b, _ := crc4.PickServer(k)
		if a.String() != b.String() {
			crcMoved++
		}
	}
	frac := float64(moved) / total
	require.InDelta(t, 0.25, frac, 0.02, "rendezvous moved %.1f%% of keys", 100*frac)
	crcFrac := float64(crcMoved) / total
	require.Greater(t, crcFrac, 0.6, "crc32 %% N moved only %.1f%%", 100*crcFrac)
	t.Logf("adding a 4th server moves %.1f%% of keys (crc32 %% N: %.1f%%)", 100*frac, 100*crcFrac)
}

func TestRendezvousRemoveServer(t *testing.T) {
	four, err := newRendezvous(servers(4))
	require.NoError(t, err)
	without1, err := newRendezvous([]string{servers(4)[0], servers(4)[2], servers(4)[3]})
	require.NoError(t, err)
	for _, k := range keys(10_000) {
		before := four.addrs[four.pick(k)].String()
		after := without1.addrs[without1.pick(k)].String()
		if before != servers(4)[1] {
			require.Equal(t, before, after, "keys of the remaining servers stay put")
		}
	}
}

func TestRendezvousOrderIndependent(t *testing.T) {
	list := servers(5)
	a, err := newRendezvous(list)
	require.NoError(t, err)
	shuffled := append([]string(nil), list...)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	b, err := newRendezvous(append(shuffled, list[0])) // and a duplicate
	require.NoError(t, err)
	require.Len(t, b.addrs, 5)
	for _, k := range keys(5_000) {
		pa, _ := a.PickServer(k)
		pb, _ := b.PickServer(k)
		require.Equal(t, pa.String(), pb.String())
	}
	var each []string
	require.NoError(t, a.Each(func(addr net.Addr) error { each = append(each, addr.String()); return nil }))
	require.Equal(t, list, each)
}

func TestRendezvousPickAllocations(t *testing.T) {
	r, err := newRendezvous(servers(3))
	require.NoError(t, err)
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = r.PickServer("wxid:session:abc") }))
}

func TestExpiration(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name string
		ttl  time.Duration
		want int32
	}{
		{"zero is no expiry", 0, 0},
		{"a nanosecond rounds up", time.Nanosecond, 1},
		{"sub-second rounds up", 500 * time.Millisecond, 1},
		{"one second", time.Second, 1},
		{"fraction rounds up", 1500 * time.Millisecond, 2},
		{"thirty minutes", 30 * time.Minute, 1800},
		{"thirty days is relative", 30 * 24 * time.Hour, 2_592_000},
		{"past thirty days is absolute", 30*24*time.Hour + time.Second, 1_800_000_000 + 2_592_001},
		{"clamped to int32", 100 * 365 * 24 * time.Hour, math.MaxInt32},
		{"max duration", time.Duration(math.MaxInt64), math.MaxInt32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, expiration(tc.ttl, now))
		})
	}
}

func TestValidKey(t *testing.T) {
	require.True(t, validKey("wxid:s:0123abcdef"))
	require.True(t, validKey("!~"))
	for _, k := range []string{"", " ", "a b", "\x00", "\x7f", "é"} {
		require.False(t, validKey(k), "%q", k)
	}
}
