package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDescribeCluster(t *testing.T) {
	env := newAdminEnv(t, nil)
	req := kmsg.NewPtrDescribeClusterRequest()
	req.Version, req.EndpointType, req.IncludeClusterAuthorizedOperations = 2, 1, true
	resp := describeCluster(env, req)
	im := env.meta.Image()
	if resp.ErrorCode != 0 || resp.ClusterID != im.ClusterID || resp.ControllerID != 1 || len(resp.Brokers) != 1 ||
		resp.Brokers[0].Port != 9092 || strOr(resp.Brokers[0].Rack) != "r1" || resp.ClusterAuthorizedOperations != clusterAuthorizedOps {
		t.Fatalf("%+v", resp)
	}
	req.IncludeClusterAuthorizedOperations = false
	if resp := describeCluster(env, req); resp.ClusterAuthorizedOperations != authorizedOpsNotRequested {
		t.Fatalf("ops not requested: %d", resp.ClusterAuthorizedOperations)
	}
	req.EndpointType = 2
	if resp := describeCluster(env, req); resp.ErrorCode != kerr.UnsupportedEndpointType.Code {
		t.Fatalf("controller endpoint: %+v", resp)
	}
}
