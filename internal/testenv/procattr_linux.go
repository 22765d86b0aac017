package testenv

import "syscall"

// sysProcAttr kills child services if the test process dies without
// running its cleanups (a panic in another goroutine, go test's timeout).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
