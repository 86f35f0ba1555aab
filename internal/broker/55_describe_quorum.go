package broker

// DescribeQuorum, versions 0 to 2 (KIP-595, KIP-853).
//
// Describes the metadata log's quorum: its leader (the active controller)
// and leader epoch (the Raft term), the high watermark, the voters and the
// observers (brokers without a vote) with the log end offset each last
// reported. A broker forwards it to the active controller, as Kafka's do,
// so kafka-metadata-quorum.sh --bootstrap-server works against any node.
// Samsa keeps the metadata log in hashicorp/raft, which does not expose
// each follower's match index: a replica's log end offset is the metadata
// offset its broker last sent in a heartbeat (-1 for a voter that is not
// a broker), and lag is measured against that.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(55, 0, 2, handleDescribeQuorum) }

func handleDescribeQuorum(ctx context.Context, env *Broker, _ *RequestContext, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.DescribeQuorumRequest)
	ctx, cancel := timeoutCtx(ctx, 10000)
	defer cancel()
	resp, err := env.replicas.Controller().DescribeQuorum(ctx, req)
	if err != nil {
		resp = req.ResponseKind().(*kmsg.DescribeQuorumResponse)
		code, msg := errCode(err)
		if code == kerr.UnknownServerError.Code {
			code = kerr.RequestTimedOut.Code
		}
		resp.ErrorCode, resp.ErrorMessage = code, msg
	}
	return resp, nil
}
