package broker

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/samsa-streaming/samsa/internal/config"
)

// A bad coordinator setting stops the node at start, naming the setting,
// rather than failing every group or transaction request later.
func TestNewRefusesBadCoordinatorSettings(t *testing.T) {
	for key, bad := range map[string]string{
		"group.max.size":             "0",
		"transaction.max.timeout.ms": "-5",
	} {
		cfg, err := config.Parse(map[string]string{
			"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": t.TempDir(), "samsa.admin.listener": "",
			key: bad,
		})
		if err != nil {
			t.Fatal(err)
		}
		b, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			b.Close()
			t.Fatalf("%s=%s: the node started", key, bad)
		}
		if !strings.Contains(err.Error(), key) {
			t.Fatalf("%s=%s: error %q does not name the setting", key, bad, err)
		}
	}
}
