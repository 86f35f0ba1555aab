package broker

import (
	"testing"

	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestAPIVersionsUnsupportedVersion(t *testing.T) {
	n := startNode(t, nil)
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(99)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
	body := rawRequest(t, n.addr, req)
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("v0 response does not parse: %v", err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("error %d", resp.ErrorCode)
	}
	var sawAPIVersions bool
	for _, k := range resp.ApiKeys {
		if k.ApiKey == 18 && k.MinVersion == 0 && k.MaxVersion == 4 {
			sawAPIVersions = true
		}
	}
	if !sawAPIVersions {
		t.Fatalf("ranges do not list ApiVersions 0-4: %+v", resp.ApiKeys)
	}

	// A supported version answers normally.
	req.SetVersion(3)
	resp.SetVersion(3)
	if err := resp.ReadFrom(rawRequest(t, n.addr, req)); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("v3: %v code %d", err, resp.ErrorCode)
	}
}

// TestTV2FeatureAdvertised: ApiVersions names transaction.version 0..2 as
// supported and 2 as finalized (the default of samsa.transaction.version),
// with the image's epoch; the level is a FeatureLevel record.
func TestTV2FeatureAdvertised(t *testing.T) {
	b, addr, _ := startBrokerIn(t, t.TempDir(), nil)
	minV, maxV, fin, epoch := apiFeatures(t, txnTestClient(t, addr))
	if minV != 0 || maxV != 2 || fin != 2 || epoch < 0 {
		t.Fatalf("supported %d..%d finalized %d epoch %d, want 0..2, 2, epoch >= 0", minV, maxV, fin, epoch)
	}
	if lvl := b.meta.Image().Features[txn.FeatureName]; lvl != 2 {
		t.Fatalf("metadata image level %d", lvl)
	}
}

// TestTransactionVersionFallBack: changing samsa.transaction.version and
// restarting finalizes the new level.
func TestTransactionVersionFallBack(t *testing.T) {
	dir := t.TempDir()
	_, addr, stop := startBrokerIn(t, dir, nil)
	if _, _, fin, _ := apiFeatures(t, txnTestClient(t, addr)); fin != 2 {
		t.Fatalf("first start: level %d", fin)
	}
	stop()
	_, addr, stop = startBrokerIn(t, dir, map[string]string{"samsa.transaction.version": "1"})
	if _, _, fin, _ := apiFeatures(t, txnTestClient(t, addr)); fin != 1 {
		t.Fatalf("after falling back: level %d", fin)
	}
	stop()
	_, addr, _ = startBrokerIn(t, dir, nil)
	if _, _, fin, _ := apiFeatures(t, txnTestClient(t, addr)); fin != 2 {
		t.Fatalf("after coming back: level %d", fin)
	}
}
