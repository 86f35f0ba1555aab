package broker

// DescribeCluster, versions 0 to 2.
//
// Answers with the cluster id, the active controller's node id and the
// registered brokers that are not fenced (with racks); v2's
// IncludeFencedBrokers (KIP-1073) lists the fenced ones too, with IsFenced. endpoint_type (v1+) must be 1,
// brokers: this is a broker listener, so 2 (controllers) gets
// UNSUPPORTED_ENDPOINT_TYPE, as Kafka's brokers answer. With no authorizer
// every cluster operation is allowed, so the authorized operations, when
// asked for, are all of the cluster's (ALTER, ALTER_CONFIGS,
// CLUSTER_ACTION, CREATE, DESCRIBE, DESCRIBE_CONFIGS, IDEMPOTENT_WRITE);
// otherwise Kafka's "not requested" value, INT32_MIN.

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(60, 0, 2, handleDescribeCluster) }

// ACL operation bits (Kafka's AclOperation codes) for authorized-operations
// fields.
const (
	aclRead            = 3
	aclWrite           = 2
	aclCreate          = 5
	aclDelete          = 6
	aclAlter           = 4
	aclDescribe        = 8
	aclClusterAction   = 7
	aclDescribeConfigs = 10
	aclAlterConfigs    = 11
	aclIdempotentWrite = 12

	authorizedOpsNotRequested = math.MinInt32
)

func opsBits(ops ...int) int32 {
	var v int32
	for _, op := range ops {
		v |= 1 << op
	}
	return v
}

var (
	clusterAuthorizedOps = opsBits(aclAlter, aclAlterConfigs, aclClusterAction, aclCreate, aclDescribe, aclDescribeConfigs, aclIdempotentWrite)
	topicAuthorizedOps   = opsBits(aclRead, aclWrite, aclCreate, aclDelete, aclAlter, aclDescribe, aclDescribeConfigs, aclAlterConfigs)
)

func handleDescribeCluster(ctx context.Context, b *Broker, _ *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	return describeCluster(b, r.(*kmsg.DescribeClusterRequest)), nil
}

func describeCluster(env *Broker, req *kmsg.DescribeClusterRequest) *kmsg.DescribeClusterResponse {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.ClusterAuthorizedOperations = authorizedOpsNotRequested
	endpoint := req.EndpointType
	if req.Version < 1 {
		endpoint = 1
	}
	resp.EndpointType = endpoint
	if endpoint != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		resp.ErrorMessage = strPtr("The request was sent to a broker endpoint, but only brokers (endpoint type 1) are described here.")
		return resp
	}
	im := env.meta.Image()
	resp.ClusterID = im.ClusterID
	resp.ControllerID = env.controllerForClients(im)
	for _, id := range im.BrokerIDs() {
		br := im.Brokers[id]
		if br.Fenced && !req.IncludeFencedBrokers {
			continue
		}
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port = br.ID, br.Host, br.Port
		rb.IsFenced = br.Fenced
		if br.Rack != "" {
			rb.Rack = strPtr(br.Rack)
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = clusterAuthorizedOps
	}
	return resp
}
