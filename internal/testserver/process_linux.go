package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// setSysProcAttr asks the kernel to kill the server if the test binary
// dies without running its cleanups (a test timeout panics, for example),
// so that no server outlives its tests.
func setSysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// pause stops the process (SIGSTOP) and returns once every thread of it
// has stopped: the signal is delivered asynchronously, and a thread still
// running could answer one more request after pause returned.
func (p *process) pause() error {
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	pid := p.cmd.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for {
		running, err := runningThreads(pid)
		if err != nil {
			return err
		}
		if running == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d threads of process %d still run 5s after SIGSTOP", running, pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// resume continues the process (SIGCONT).
func (p *process) resume() error { return p.cmd.Process.Signal(syscall.SIGCONT) }

// runningThreads returns how many threads of process pid are not stopped,
// from the state field of /proc/<pid>/task/<tid>/stat.
func runningThreads(pid int) (int, error) {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		return 0, fmt.Errorf("threads of process %d: %v", pid, err)
	}
	running := 0
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			if os.IsNotExist(err) { // the thread ended
				continue
			}
			return 0, err
		}
		// "pid (comm) S ...": comm may hold spaces and parentheses, so the
		// state follows the last ')'.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) {
			return 0, fmt.Errorf("%s: unexpected %q", f, b)
		}
		if state := b[i+2]; state != 'T' && state != 't' {
			running++
		}
	}
	return running, nil
}
