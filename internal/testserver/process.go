package testserver

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

const (
	readyTimeout  = 10 * time.Second      // for a server to answer its first command
	pollInterval  = 10 * time.Millisecond // between readiness probes
	stopTimeout   = 5 * time.Second       // after SIGTERM, before SIGKILL
	startAttempts = 5                     // ports tried when a server exits at startup
	probeTimeout  = time.Second           // for one readiness probe's dial and exchange
)

// process is one run of a server binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been reaped
	err  error         // the result of cmd.Wait, set before done is closed
}

func startProcess(path string, args []string, dir string, out *output) (*process, error) {
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = time.Second
	setSysProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM, waits up to stopTimeout for the process to exit,
// then kills it. It returns once the process has been reaped and may be
// called more than once.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.resume() // a paused process acts on no signal but SIGKILL
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// errExited reports that a server exited before it became ready, most
// often because its port was taken.
var errExited = errors.New("server exited during startup")

// waitReady polls probe every pollInterval until it succeeds, the process
// exits (errExited) or readyTimeout passes. An exit is noticed at once,
// even while a probe waits on a port that something else holds.
func (p *process) waitReady(probe func() error) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		result := make(chan error, 1)
		go func() { result <- probe() }()
		var err error
		select {
		case <-p.done:
			return fmt.Errorf("%w (%v)", errExited, p.err)
		case err = <-result:
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", readyTimeout, err)
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w (%v)", errExited, p.err)
		case <-time.After(pollInterval):
		}
	}
}
