package testserver

import (
	"os/exec"
	"syscall"
)

// setSysProcAttr asks the kernel to kill the server if the test binary
// dies without running its cleanups (a test timeout panics, for example),
// so that no server outlives its tests.
func setSysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// pause stops the process (SIGSTOP); resume continues it (SIGCONT).
func (p *process) pause() error  { return p.cmd.Process.Signal(syscall.SIGSTOP) }
func (p *process) resume() error { return p.cmd.Process.Signal(syscall.SIGCONT) }
