package broker

import (
	"testing"

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
