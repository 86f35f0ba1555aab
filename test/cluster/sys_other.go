//go:build unix && !linux

package cluster

import (
	"errors"
	"os/exec"
	"syscall"
)

func nodeSysProcAttr(uid int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func inNewNetns(cmd *exec.Cmd) {}

const netnsPossible = false

func loopbackUp() error { return errors.New("network namespaces need Linux") }

// stoppedState cannot tell without /proc: it assumes the signal arrived.
func stoppedState(pid int) error { return nil }
