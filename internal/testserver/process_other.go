//go:build !linux

package testserver

import (
	"errors"
	"os/exec"
)

func setSysProcAttr(cmd *exec.Cmd) {}

var errNoPause = errors.New("pausing a server needs Linux")

func (p *process) pause() error  { return errNoPause }
func (p *process) resume() error { return nil }
