package metadata

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// meta.properties, as Kafka writes it in every log directory:
//
//	version=1
//	cluster.id=<22-character base64 UUID>
//	node.id=<node id>
//	directory.id=<22-character base64 UUID>
//
// directory.id (KIP-858) names the directory itself: a node that restarts
// on its own data registers the same id, which tells the controller a
// restart from a second process claiming the node id.

const metaPropertiesFile = "meta.properties"

// NewClusterID returns a random cluster id in Kafka's form: a version-4
// UUID in URL-safe base64 without padding (22 characters).
func NewClusterID() string {
	id := newUUID()
	return base64.RawURLEncoding.EncodeToString(id[:])
}

func validateClusterID(id string) error {
	if len(id) == 0 || len(id) > 64 {
		return fmt.Errorf("metadata: cluster.id %q must be 1 to 64 characters", id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("metadata: cluster.id %q may only contain [a-zA-Z0-9_-]", id)
		}
	}
	return nil
}

func writeMetaProperties(fs vfs.FS, path, clusterID string, nodeID int32, dirID Uuid) error {
	content := fmt.Sprintf("#\n#Written by samsa\nversion=1\ncluster.id=%s\nnode.id=%d\ndirectory.id=%s\n", clusterID, nodeID, encodeUuid(dirID))
	if err := vfs.WriteFileAtomic(fs, path, []byte(content)); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	return nil
}

// loadMetaProperties reads dir/meta.properties, or writes it on first
// start, and returns the cluster id and the directory id (added to a file
// written before directory ids).
func loadMetaProperties(fs vfs.FS, dir string, nodeID int32, want string) (string, Uuid, error) {
	path := filepath.Join(dir, metaPropertiesFile)
	data, err := vfs.ReadFile(fs, path)
	if errors.Is(err, os.ErrNotExist) {
		id := want
		if id == "" {
			id = NewClusterID()
		}
		dirID := newUUID()
		return id, dirID, writeMetaProperties(fs, path, id, nodeID, dirID)
	}
	if err != nil {
		return "", Uuid{}, fmt.Errorf("metadata: read %s: %w", path, err)
	}
	props := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return "", Uuid{}, fmt.Errorf("metadata: %s: malformed line %q", path, line)
		}
		props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	id := props["cluster.id"]
	if err := validateClusterID(id); err != nil {
		return "", Uuid{}, fmt.Errorf("%s: %w", path, err)
	}
	if want != "" && want != id {
		return "", Uuid{}, fmt.Errorf("metadata: cluster.id %s in %s does not match the configured %s", id, path, want)
	}
	if n, ok := props["node.id"]; ok {
		if got, err := strconv.ParseInt(n, 10, 32); err != nil || int32(got) != nodeID {
			return "", Uuid{}, fmt.Errorf("metadata: node.id %s in %s does not match the configured node.id %d: this directory belongs to node %s; start node %s on it, or give node %d a directory of its own", n, path, nodeID, n, n, nodeID)
		}
	}
	var dirID Uuid
	if d, ok := props["directory.id"]; ok {
		b, err := base64.RawURLEncoding.DecodeString(d)
		if err != nil || len(b) != 16 {
			return "", Uuid{}, fmt.Errorf("metadata: directory.id %q in %s is not a UUID", d, path)
		}
		copy(dirID[:], b)
	} else {
		dirID = newUUID()
		if err := writeMetaProperties(fs, path, id, nodeID, dirID); err != nil {
			return "", Uuid{}, err
		}
	}
	return id, dirID, nil
}

// newUUID returns a random version-4 UUID; never the zero UUID.
func newUUID() Uuid {
	var u Uuid
	for u == (Uuid{}) {
		_, _ = rand.Read(u[:]) // crypto/rand.Read never fails (Go 1.24+)
		u[6] = u[6]&0x0f | 0x40
		u[8] = u[8]&0x3f | 0x80
	}
	return u
}

func encodeUuid(id Uuid) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// NewUUID returns a random version-4 UUID (an incarnation id, say).
func NewUUID() Uuid { return newUUID() }
