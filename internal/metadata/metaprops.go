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

// loadMetaProperties reads dir/meta.properties, or writes it on first
// start, and returns the cluster id.
func loadMetaProperties(fs vfs.FS, dir string, nodeID int32, want string) (string, error) {
	path := filepath.Join(dir, metaPropertiesFile)
	data, err := vfs.ReadFile(fs, path)
	if errors.Is(err, os.ErrNotExist) {
		id := want
		if id == "" {
			id = NewClusterID()
		}
		content := fmt.Sprintf("#\n#Written by samsa\nversion=1\ncluster.id=%s\nnode.id=%d\n", id, nodeID)
		if err := vfs.WriteFileAtomic(fs, path, []byte(content)); err != nil {
			return "", fmt.Errorf("metadata: %w", err)
		}
		return id, nil
	}
	if err != nil {
		return "", fmt.Errorf("metadata: read %s: %w", path, err)
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
			return "", fmt.Errorf("metadata: %s: malformed line %q", path, line)
		}
		props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	id := props["cluster.id"]
	if err := validateClusterID(id); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if want != "" && want != id {
		return "", fmt.Errorf("metadata: cluster.id %s in %s does not match the configured %s", id, path, want)
	}
	if n, ok := props["node.id"]; ok {
		if got, err := strconv.ParseInt(n, 10, 32); err != nil || int32(got) != nodeID {
			return "", fmt.Errorf("metadata: node.id %s in %s does not match the configured %d", n, path, nodeID)
		}
	}
	return id, nil
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
