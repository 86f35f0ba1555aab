package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// outputTypes are the documents the administrative commands print with
// --format json or yaml, with their field names: scripts depend on them,
// so a change here is a change of the interface (and of docs/cli.md).
var outputTypes = map[reflect.Type]string{
	reflect.TypeFor[topicSummary]():     "name id partition_count replication_factor internal",
	reflect.TypeFor[topicCreated]():     "name id partition_count replication_factor internal created",
	reflect.TypeFor[topicDescription](): "name id partition_count replication_factor internal configs partitions",
	reflect.TypeFor[topicConfig]():      "name value source sensitive",
	reflect.TypeFor[partitionDetail]():  "partition leader leader_epoch replicas isr offline_replicas log_start_offset log_end_offset error",
	reflect.TypeFor[topicAltered]():     "name set_configs deleted_configs partition_count",
	reflect.TypeFor[topicDeleted]():     "name deleted",
	reflect.TypeFor[groupSummary]():     "name type state protocol_type coordinator",
	reflect.TypeFor[groupDescription](): "name type state protocol epoch members offsets total_lag",
	reflect.TypeFor[groupMember]():      "member_id instance_id client_id host",
	reflect.TypeFor[groupOffset]():      "topic partition committed_offset log_end_offset lag member_id",
	reflect.TypeFor[offsetsReset]():     "group executed offsets",
	reflect.TypeFor[offsetReset]():      "topic partition current_offset new_offset",
	reflect.TypeFor[groupDeleted]():     "name deleted",
	reflect.TypeFor[txnSummary]():       "transactional_id producer_id state coordinator",
	reflect.TypeFor[txnDescription]():   "transactional_id state producer_id producer_epoch timeout_ms start_timestamp partitions coordinator error",
	reflect.TypeFor[topicPartition]():   "topic partition",
	reflect.TypeFor[txnAborted]():       "topic partition producer_id producer_epoch coordinator_epoch",
	reflect.TypeFor[clusterInfo]():      "cluster_id controller brokers",
	reflect.TypeFor[brokerInfo]():       "id host port rack",
	reflect.TypeFor[versionInfo]():      "version commit modified go platform",
}

// fieldNames lists the JSON names of t's exported fields, inlined structs
// flattened, checking that the YAML name is the same.
func fieldNames(t *testing.T, typ reflect.Type) []string {
	t.Helper()
	var names []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		j, y := f.Tag.Get("json"), f.Tag.Get("yaml")
		if j != y {
			t.Errorf("%s.%s: json tag %q, yaml tag %q", typ.Name(), f.Name, j, y)
		}
		if j == ",inline" {
			names = append(names, fieldNames(t, f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(j, ",")
		if name == "" {
			t.Errorf("%s.%s has no json name", typ.Name(), f.Name)
		}
		names = append(names, name)
	}
	return names
}

func TestOutputFieldNames(t *testing.T) {
	for typ, want := range outputTypes {
		if got := strings.Join(fieldNames(t, typ), " "); got != want {
			t.Errorf("%s fields: %s\nwant %s", typ.Name(), got, want)
		}
	}
}

func TestVersion(t *testing.T) {
	r := samsa("", "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "samsa ") || !strings.HasSuffix(r.stdout, " "+runtime.GOOS+"/"+runtime.GOARCH+")\n") {
		t.Fatalf("version: exit %d, %q", r.code, r.stdout)
	}
	if r2 := samsa("", "--version"); r2.code != 0 || r2.stdout != r.stdout {
		t.Fatalf("--version printed %q, version %q", r2.stdout, r.stdout)
	}
	for _, f := range []string{"json", "yaml"} {
		r := samsa("", "version", "--format", f)
		var v versionInfo
		var err error
		if f == "json" {
			err = json.Unmarshal([]byte(r.stdout), &v)
		} else {
			err = yaml.Unmarshal([]byte(r.stdout), &v)
		}
		if err != nil || v != buildVersion() && (v.Commit == nil || *v.Commit != *buildVersion().Commit) {
			t.Fatalf("version --format %s: %v\n%s", f, err, r.stdout)
		}
	}
}

func TestVersionFrom(t *testing.T) {
	rev := "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{nil, "samsa devel (commit unknown; "},
		{&debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "(devel)"}}, "samsa devel (commit unknown; go1.99 "},
		{&debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}}, "samsa v1.2.3 (commit 0123456789ab; go1.99 "},
		{&debug.BuildInfo{GoVersion: "go1.99", Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}}, "samsa devel (commit 0123456789ab, modified; go1.99 "},
	} {
		v := versionFrom(tc.bi, tc.bi != nil)
		if got := v.String(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("got %q, want prefix %q", got, tc.want)
		}
		if tc.bi != nil && len(tc.bi.Settings) > 0 && (v.Commit == nil || *v.Commit != rev) {
			t.Errorf("commit %v, want the full revision", v.Commit)
		}
	}
}

// TestVersionOfBuild builds samsa with VCS stamping and checks that it
// reports the commit checked out.
func TestVersionOfBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped in -short mode")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "samsa")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	stamped, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stamped), "vcs.revision=") {
		// The go command finds no repository in some layouts (a git
		// worktree, whose .git is a file); TestVersionFrom covers the rest.
		t.Skip("the toolchain recorded no VCS revision in this checkout")
	}
	out, err := exec.Command(bin, "version", "--format", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var v versionInfo
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if v.Commit == nil || *v.Commit != strings.TrimSpace(string(head)) {
		t.Fatalf("commit %v, want %s", v.Commit, head)
	}
	text, _ := exec.Command(bin, "--version").Output()
	if !strings.Contains(string(text), "commit "+(*v.Commit)[:12]) {
		t.Fatalf("--version: %q", text)
	}
}
