// Command samsa is the Samsa binary: `samsa serve` runs a node, and the other
// commands (topic, group, txn, cluster, produce, consume, bench) are Kafka
// clients that work against any Kafka-compatible cluster.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills the process the
		// default way, in case a graceful stop hangs.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the process exit code:
// 0 on success, 1 on a runtime failure, 2 on a usage mistake.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
		fmt.Fprintf(stderr, "samsa: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return 2
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "samsa: interrupted")
		return 130
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(stderr, "samsa: %s\n", ee.msg)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "samsa: %v\n", err)
	return 1
}

// usageError is a mistake in the command line itself (exit code 2).
type usageError struct{ err error }

func (u *usageError) Error() string { return u.err.Error() }
func (u *usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// exitError carries a specific exit code, e.g. when a producer sent most
// records but some failed and the summary was already printed.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }
