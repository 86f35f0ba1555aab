//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// setProcessGroup makes cmd's cancellation kill go test and the test
// binaries it started, not only the go command.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
