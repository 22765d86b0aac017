package testenv

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := c.Write([]byte(sc.Text() + "\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line through addr's connection c and reads the echo
// within d.
func roundTrip(c net.Conn, r *bufio.Reader, line string, d time.Duration) (string, error) {
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	got, err := r.ReadString('\n')
	return got, err
}

func TestProxy(t *testing.T) {
	p := StartProxy(t, echoServer(t))
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c, bufio.NewReader(c)
	}
	c, r := dial()
	got, err := roundTrip(c, r, "hello", time.Second)
	require.NoError(t, err)
	require.Equal(t, "hello\n", got)

	p.Stall()
	_, err = roundTrip(c, r, "held", 200*time.Millisecond)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "a stalled connection hangs: %v", err)
	fresh, freshR := dial() // accepted, but never answered
	_, err = roundTrip(fresh, freshR, "new", 200*time.Millisecond)
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "a new connection hangs too: %v", err)

	p.Heal()
	_, err = roundTrip(c, r, "after", time.Second)
	require.Error(t, err, "stalled connections are closed when the stall ends")
	c, r = dial()
	got, err = roundTrip(c, r, "again", time.Second)
	require.NoError(t, err)
	require.Equal(t, "again\n", got)

	p.Refuse()
	_, err = roundTrip(c, r, "gone", time.Second)
	require.Error(t, err, "open connections are closed")
	// A new connection is reset: while dialling, or at its first round trip.
	refused, err := net.DialTimeout("tcp", p.Addr, time.Second)
	if err == nil {
		t.Cleanup(func() { _ = refused.Close() })
		_, err = roundTrip(refused, bufio.NewReader(refused), "x", time.Second)
	}
	require.Error(t, err, "new connections are reset")
	require.False(t, isTimeout(err), "a refusal is immediate, not a hang: %v", err)

	p.Heal()
	c, r = dial()
	got, err = roundTrip(c, r, "back", time.Second)
	require.NoError(t, err)
	require.Equal(t, "back\n", got)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
