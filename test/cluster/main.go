package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Environment variables of the harness. Nodes never see SAMSA_* variables
// of the test's environment (their configuration is the properties file),
// so these do not reach them.
const (
	// EnvBinary names a samsa binary to run instead of building one.
	EnvBinary = "SAMSA_CLUSTER_BIN"
	// EnvNetns set to "off" keeps the tests in the current network
	// namespace (partitions then skip). Main sets it to "inside" for the
	// copy of the test binary it runs in a new namespace.
	EnvNetns = "SAMSA_CLUSTER_NETNS"
	// envRoot passes the directory Main made for the binary and the
	// clusters' data to that copy: Main removes it when the copy ends,
	// even if it died of a test timeout, which runs no clean-ups.
	envRoot = "SAMSA_CLUSTER_ROOT"
)

// env is what Main found out, read by everything else.
var env struct {
	binary string // the samsa binary
	root   string // the directory the clusters' directories go in
	// netns is true inside a network namespace of our own: nodes then run
	// under user ids of their own and nft rules may be installed.
	netns bool
	// noPartitions says why Partition cannot work here; "" when it can.
	noPartitions string
	nft          string // the nft binary
}

// findNft is the nft binary: on PATH, or where Debian puts it (a PATH
// without the sbin directories is common outside login shells).
func findNft() string {
	if p, err := exec.LookPath("nft"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/nft", "/sbin/nft"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// Main is the TestMain of a package that uses the harness: it builds the
// samsa binary once, runs the tests (inside a new network namespace when
// it can, see the package documentation) and exits with their status.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv(EnvNetns) == "inside" {
		// The copy Main started in a new namespace.
		if err := loopbackUp(); err != nil {
			fmt.Fprintln(os.Stderr, "cluster:", err)
			return 1
		}
		env.netns = true
		if env.nft = findNft(); env.nft == "" {
			env.noPartitions = "nft is not installed (apt-get install nftables): partitions are nftables rules"
		}
		env.binary, env.root = os.Getenv(EnvBinary), os.Getenv(envRoot)
		if env.binary == "" || env.root == "" {
			fmt.Fprintln(os.Stderr, "cluster: "+EnvBinary+" or "+envRoot+" is not set in the network namespace")
			return 1
		}
		return m.Run()
	}

	root, err := os.MkdirTemp("", "samsa-cluster-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	defer os.RemoveAll(root)
	// Nodes may run under other user ids: they must reach the binary and
	// their directories.
	if err := os.Chmod(root, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	bin, err := samsaBinary(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}

	reason := netnsUnavailable()
	if reason == "" {
		code, err := runInNetns(bin, root)
		if err == nil {
			return code
		}
		reason = "could not create a network namespace: " + err.Error()
	}
	env.binary, env.root = bin, root
	env.noPartitions = "no network namespace of the tests' own, so no nftables rules: " + reason
	return m.Run()
}

// netnsUnavailable says why the tests cannot run in a namespace of their
// own, or "" when they can.
func netnsUnavailable() string {
	switch {
	case os.Getenv(EnvNetns) == "off":
		return EnvNetns + "=off"
	case !netnsPossible:
		return "network namespaces need Linux"
	case os.Geteuid() != 0:
		return "the tests do not run as root"
	}
	return ""
}

// runInNetns runs this test binary again, with the same arguments, in a new
// network namespace, and returns its exit status. An error means the copy
// could not start (the namespace could not be created).
func runInNetns(bin, root string) (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), EnvNetns+"=inside", EnvBinary+"="+bin, envRoot+"="+root)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	inNewNetns(cmd)
	// Signals meant for the tests (an interrupt, go test's SIGQUIT on a
	// timeout) go to the copy that runs them.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode(), nil
	default:
		fmt.Fprintln(os.Stderr, "cluster: the tests in the network namespace ended:", err)
		return 1, nil
	}
}

// samsaBinary puts the binary to run in dir, where nodes running under
// other user ids reach it: a copy of EnvBinary, or one built from the
// module's cmd/samsa.
func samsaBinary(dir string) (string, error) {
	bin := filepath.Join(dir, "samsa")
	if b := os.Getenv(EnvBinary); b != "" {
		data, err := os.ReadFile(b)
		if err != nil {
			return "", fmt.Errorf("%s: %w", EnvBinary, err)
		}
		return bin, os.WriteFile(bin, data, 0o755)
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	build := exec.Command("go", "build", "-o", bin, "./cmd/samsa")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build samsa: %w", err)
	}
	return bin, nil
}

// moduleRoot is the directory of the go.mod above the working directory
// (go test runs a package's tests in the package's directory).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above " + dir)
		}
		dir = parent
	}
}

// clusterKeys are the start-up settings a multi-node cluster is configured
// with.
var clusterKeys = []string{
	"process.roles",
	"controller.quorum.voters",
	"controller.listener.names",
	"inter.broker.listener.name",
	"broker.heartbeat.interval.ms",
	"broker.session.timeout.ms",
	"broker.rack",
}

var supported struct {
	once   sync.Once
	reason string
}

// ClusterSupported reports whether the binary takes the cluster settings
// (process.roles, controller.quorum.voters, ...): every one of them must be
// a start-up setting in `samsa config docs`, which lists each with its
// SAMSA_* variable. When it does not, reason says what is missing.
func ClusterSupported() (ok bool, reason string) {
	supported.once.Do(func() {
		if env.binary == "" {
			supported.reason = "no samsa binary: call cluster.Main from TestMain"
			return
		}
		var out, errOut bytes.Buffer
		cmd := exec.Command(env.binary, "config", "docs")
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			supported.reason = fmt.Sprintf("samsa config docs failed (%v): %s", err, errOut.String())
			return
		}
		var missing []string
		for _, k := range clusterKeys {
			if !bytes.Contains(out.Bytes(), []byte("`"+envName(k)+"`")) {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			supported.reason = "the samsa binary has no start-up setting " + strings.Join(missing, ", ") +
				" (samsa config docs), so it runs one node only"
		}
	})
	return supported.reason == "", supported.reason
}

// RequireCluster skips the test unless the binary takes the cluster
// settings.
func RequireCluster(t testing.TB) {
	t.Helper()
	if ok, reason := ClusterSupported(); !ok {
		t.Skip(reason)
	}
}

// envName is the SAMSA_* variable of a config key, as internal/config
// names it.
func envName(key string) string {
	key = strings.TrimPrefix(key, "samsa.")
	return "SAMSA_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}
