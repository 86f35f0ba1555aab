package e2e

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// runSecondServe runs `samsa serve` on dataDir with its own ports and waits
// for it to exit; it must refuse, so a run longer than a minute fails.
func runSecondServe(t *testing.T, env ...string) (exitCode int, output string) {
	t.Helper()
	cmd := exec.Command(samsaBin, "serve")
	cmd.Env = append(os.Environ(),
		"SAMSA_LISTENERS=PLAINTEXT://127.0.0.1:"+strconv.Itoa(freePort(t)),
		"SAMSA_ADMIN_LISTENER=127.0.0.1:"+strconv.Itoa(freePort(t)),
	)
	cmd.Env = append(cmd.Env, env...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("a second samsa serve on a directory in use was still running after a minute:\n%s", out.String())
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// dirState fingerprints every entry under dir: name, size, mode, mtime and
// a hash of the contents.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		state := info.Mode().String() + " " + strconv.FormatInt(info.Size(), 10) + " " + info.ModTime().String()
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			state += " " + string(sum[:])
		}
		out[p] = state
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A second node on a data directory in use (any node's, in a cluster)
// refuses to start, naming the directory and the process that holds it,
// and the acknowledged records all survive a stop and restart.
func TestSecondServeOnLiveDataDirRefused(t *testing.T) {
	b := startBroker(t)
	createTopic(t, b, "orders", 3, nil)
	cl := b.client(kgo.DefaultProduceTopic("orders"))
	acked := produceKeyed(t, cl, "orders", "before", 2000)

	for _, n := range b.nodes {
		code, out := runSecondServe(t, "SAMSA_LOG_DIRS="+n.dataDir)
		abs, _ := filepath.Abs(n.dataDir)
		want := abs + " is in use by another samsa process (pid " + strconv.Itoa(n.cmd.Process.Pid) + ")"
		if code == 0 || !strings.Contains(out, want) {
			t.Fatalf("second serve on node %d's directory: exit %d, output:\n%s\nwant a non-zero exit and %q", n.id, code, out, want)
		}
		if strings.Count(strings.TrimSpace(out), "\n") > 0 {
			t.Fatalf("the refusal is more than one line:\n%s", out)
		}
	}

	more := produceKeyed(t, cl, "orders", "after", 2000)
	for p, recs := range more {
		acked[p] = append(acked[p], recs...)
	}
	b.stop()
	b.restart()
	compareExact(t, acked, consumeAll(t, b, "orders"))
}

// The refusal touches nothing: with the directories held by another
// process, serve exits before creating, reading into or marking any file
// (in a cluster, of each node's directories in turn).
func TestServeOnLockedDirChangesNothing(t *testing.T) {
	b := startBroker(t)
	createTopic(t, b, "orders", 2, nil)
	produceKeyed(t, b.client(kgo.DefaultProduceTopic("orders")), "orders", "x", 500)
	b.stop()

	for _, n := range b.nodes {
		for _, tc := range []struct {
			name   string
			locked string
			env    []string
		}{
			{"log dir", n.dataDir, []string{"SAMSA_LOG_DIRS=" + n.dataDir}},
			// Logs elsewhere, metadata log in the held directory.
			{"metadata dir", filepath.Join(n.dataDir, "__cluster_metadata"), []string{
				"SAMSA_LOG_DIRS=" + t.TempDir(),
				"SAMSA_METADATA_LOG_DIR=" + filepath.Join(n.dataDir, "__cluster_metadata"),
			}},
		} {
			name := tc.name
			if b.clustered() {
				name = fmt.Sprintf("node %d %s", n.id, tc.name)
			}
			t.Run(name, func(t *testing.T) {
				held, err := vfs.OS.Lock(tc.locked)
				if err != nil {
					t.Fatal(err)
				}
				defer held.Close()
				before := dirState(t, n.dataDir)
				code, out := runSecondServe(t, tc.env...)
				abs, _ := filepath.Abs(tc.locked)
				want := abs + " is in use by another samsa process (pid " + strconv.Itoa(os.Getpid()) + ")"
				if code == 0 || !strings.Contains(out, want) {
					t.Fatalf("serve: exit %d, output:\n%s\nwant a non-zero exit and %q", code, out, want)
				}
				after := dirState(t, n.dataDir)
				for p, s := range before {
					if after[p] != s {
						t.Errorf("%s changed", p)
					}
				}
				for p := range after {
					if _, ok := before[p]; !ok {
						t.Errorf("%s appeared", p)
					}
				}
			})
		}
	}
}
