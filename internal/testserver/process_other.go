//go:build !linux

package testserver

import "os/exec"

func setSysProcAttr(cmd *exec.Cmd) {}
