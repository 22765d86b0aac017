package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// memcachedReadyTimeout bounds the wait for a started memcached to answer.
const memcachedReadyTimeout = 5 * time.Second

// Memcached is a private memcached process listening on 127.0.0.1, started
// by StartMemcached and killed when the test ends. Its methods fail the test
// on error, so call them from the test's goroutine. They are safe for
// concurrent use.
type Memcached struct {
	// Addr is the "127.0.0.1:port" the server listens on; it stays the same
	// across Stop and Start.
	Addr string

	t      testing.TB
	bin    string
	port   int
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	stderr *bytes.Buffer
}

// StartMemcached starts a memcached (from PATH, else /usr/bin/memcached) on a
// free loopback port, waits until it accepts connections and kills it when
// the test ends. A missing binary skips the test, or fails it when Required.
func StartMemcached(t testing.TB) *Memcached {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		bin = "/usr/bin/memcached"
		if _, statErr := os.Stat(bin); statErr != nil {
			unavailable(t, "memcached is not installed (not in PATH, no /usr/bin/memcached; apt-get install memcached)")
		}
	}
	m := &Memcached{t: t, bin: bin}
	t.Cleanup(m.Stop)
	// A free port can be taken between FreePort and memcached's bind: retry.
	for attempt := 0; ; attempt++ {
		m.port = FreePort(t)
		m.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port))
		err := m.start()
		if err == nil {
			return m
		}
		if attempt == 4 {
			t.Fatalf("testenv: starting memcached: %v", err)
		}
	}
}

// Stop kills the server (SIGKILL, like a crash) and waits for it to exit.
// Stopping a stopped server does nothing.
func (m *Memcached) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopLocked()
}

// Start starts the server again on the same port, empty, and waits until it
// accepts connections. Starting a running server does nothing.
func (m *Memcached) Start() {
	m.t.Helper()
	// Right after Stop the port may linger for a moment: retry briefly.
	deadline := time.Now().Add(memcachedReadyTimeout)
	for {
		err := m.start()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("testenv: restarting memcached on %s: %v", m.Addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pause freezes the server (SIGSTOP): it keeps its data but answers
// nothing, so clients time out, like a partitioned or hung server. Resume
// thaws it. The test's cleanup resumes a paused server before killing it.
func (m *Memcached) Pause() {
	m.signal(syscall.SIGSTOP)
	// SIGSTOP is delivered asynchronously: a thread may still answer a
	// request or two. Wait until every thread of the process is stopped.
	m.mu.Lock()
	pid := m.cmd.Process.Pid
	m.mu.Unlock()
	deadline := time.Now().Add(2 * time.Second)
	for !stopped(pid) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// stopped reports whether every thread of pid is stopped ('T' in
// /proc/PID/task/TID/stat); true where /proc cannot tell.
func stopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return true
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			return true
		}
		// pid (comm) state ...: the state follows the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false
		}
	}
	return true
}

// Resume thaws a paused server (SIGCONT); its data is intact.
func (m *Memcached) Resume() { m.signal(syscall.SIGCONT) }

func (m *Memcached) signal(sig syscall.Signal) {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil || m.cmd.Process == nil {
		m.t.Fatalf("testenv: memcached at %s is not running", m.Addr)
	}
	if err := m.cmd.Process.Signal(sig); err != nil {
		m.t.Fatalf("testenv: signalling memcached: %v", err)
	}
}

// Restart stops and starts the server: it comes back empty on the same port.
func (m *Memcached) Restart() {
	m.t.Helper()
	m.Stop()
	m.Start()
}

// Flush empties the server with flush_all over the text protocol.
func (m *Memcached) Flush() {
	m.t.Helper()
	if err := command(m.Addr, "flush_all\r\n", "OK\r\n"); err != nil {
		m.t.Fatalf("testenv: flushing memcached at %s: %v", m.Addr, err)
	}
}

// start launches memcached and waits for it to answer.
func (m *Memcached) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return nil
	}
	args := []string{
		"-l", "127.0.0.1", "-p", strconv.Itoa(m.port),
		"-U", "0", // no UDP
		"-m", "64", // MiB of memory
		"-t", "2", // threads
		"-c", "1024", // connections
	}
	if os.Geteuid() == 0 {
		// memcached refuses to run as root unless told which user to be.
		name := "root"
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		args = append(args, "-u", name)
	}
	cmd := exec.Command(m.bin, args...)
	stderr := new(bytes.Buffer)
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	m.cmd, m.exited, m.stderr = cmd, exited, stderr

	deadline := time.Now().Add(memcachedReadyTimeout)
	for {
		select {
		case <-exited:
			m.cmd = nil
			return fmt.Errorf("memcached exited at start-up: %s", bytes.TrimSpace(stderr.Bytes()))
		default:
		}
		// Check the pid too: if another process took the port first, its
		// answer must not pass for ours.
		pid, err := serverPID(m.Addr)
		if err == nil && pid != cmd.Process.Pid {
			err = fmt.Errorf("port taken by another memcached (pid %d)", pid)
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			m.stopLocked()
			return fmt.Errorf("memcached not answering on %s after %v: %v", m.Addr, memcachedReadyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *Memcached) stopLocked() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.exited
	m.cmd = nil
}

// command sends one text-protocol command to addr and checks that the reply
// line starts with want.
func command(addr, cmd, want string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte(cmd)); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if len(line) < len(want) || line[:len(want)] != want {
		return errors.New("unexpected reply " + strconv.Quote(line))
	}
	return nil
}

// serverPID asks the memcached at addr for its process id.
func serverPID(addr string) (int, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("stats\r\n")); err != nil {
		return 0, err
	}
	pid := 0
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "END" {
			if pid == 0 {
				return 0, errors.New("no pid in stats")
			}
			return pid, nil
		}
		if v, ok := strings.CutPrefix(line, "STAT pid "); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("stats ended early")
}
