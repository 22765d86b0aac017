package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on loopback in front of a server, which the test
// can break: Stall makes the server look hung (or the network partitioned)
// without touching the server, so tests can hang a shared MySQL for their
// own connections only. Stop the proxy with its test.
type Proxy struct {
	// Addr is the "127.0.0.1:port" clients connect to.
	Addr string

	target string
	ln     net.Listener

	mu     sync.Mutex
	mode   proxyMode
	healed chan struct{} // closed when a stall ends
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

type proxyMode int

const (
	proxyForward proxyMode = iota
	proxyStall
	proxyRefuse
)

// StartProxy listens on a free loopback port and forwards every connection
// to target until the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: proxy listen: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}, healed: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Stall stops forwarding: bytes on open connections are held back and new
// connections are accepted but never reach the server, as with a hung
// server or a network that drops packets. Heal ends it.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode != proxyStall {
		p.mode = proxyStall
		p.healed = make(chan struct{})
	}
}

// Refuse closes every open connection and resets new ones at once, as a
// server that is down (or restarting) does. Heal ends it.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = proxyRefuse
	p.closeConnsLocked()
}

// Heal forwards again. Connections that were stalled are closed, as TCP
// eventually gives up on them; clients reconnect.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == proxyStall {
		p.closeConnsLocked()
		close(p.healed)
	}
	p.mode = proxyForward
}

func (p *Proxy) closeConnsLocked() {
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	_ = p.ln.Close()
	p.closeConnsLocked()
	if p.mode == proxyStall {
		close(p.healed)
		p.mode = proxyForward
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode, closed := p.mode, p.closed
		if closed || mode == proxyRefuse {
			p.mu.Unlock()
			if tc, ok := client.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // a reset, not an orderly close
			}
			_ = client.Close()
			continue
		}
		p.conns[client] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		go p.serve(client, mode == proxyStall)
	}
}

func (p *Proxy) serve(client net.Conn, stalled bool) {
	defer p.wg.Done()
	if stalled {
		// Accepted, but nothing ever reaches the server; the connection
		// is closed when the stall ends.
		_, _ = io.Copy(io.Discard, client)
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = client.Close()
		_ = server.Close()
		return
	}
	p.conns[server] = struct{}{}
	p.mu.Unlock()
	var pumps sync.WaitGroup
	pumps.Add(2)
	go func() { defer pumps.Done(); p.pump(server, client) }()
	go func() { defer pumps.Done(); p.pump(client, server) }()
	pumps.Wait()
}

// pump copies src to dst, holding data back while the proxy stalls, and
// closes both ends when either fails.
func (p *Proxy) pump(dst, src net.Conn) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			mode, healed := p.mode, p.healed
			p.mu.Unlock()
			if mode == proxyStall {
				<-healed // Heal closes this connection: drop the data
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
