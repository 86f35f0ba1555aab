package broker

// ElectLeaders, versions 0 to 2.
//
// Elects partition leaders on an operator's request (KIP-183; KIP-460's
// election types from version 1): the request is forwarded to the active
// controller (metadata.Store.ElectLeaders runs it). PREFERRED (0, and
// always at version 0) makes each partition's first replica its leader
// where that replica is in the ISR and usable; UNCLEAN (1) elects a leader
// for leaderless partitions, only from the ISR: Samsa has no unclean
// election. Null topics mean every partition, and then the partitions that
// need no election are left out of the answer. Per-partition errors with
// Kafka's messages: ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE,
// ELIGIBLE_LEADERS_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION. A request
// that fails as a whole (INVALID_REQUEST for an unknown election type,
// REQUEST_TIMED_OUT when no controller answered within timeout_ms) carries
// the code at the top level (version 1 and up) and on every partition it
// named, as Kafka answers.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/controller"
	"github.com/samsa-streaming/samsa/internal/metadata"
)

func init() { register(43, 0, 2, handleElectLeaders) }

func handleElectLeaders(ctx context.Context, b *Broker, _ *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	return electLeaders(ctx, b, r.(*kmsg.ElectLeadersRequest)), nil
}

func electLeaders(ctx context.Context, env *Broker, req *kmsg.ElectLeadersRequest) *kmsg.ElectLeadersResponse {
	ctx, cancel := timeoutCtx(ctx, req.TimeoutMillis)
	defer cancel()
	results, err := env.meta.ElectLeaders(ctx, controller.DecodeElectLeaders(req))
	if err != nil {
		// A context's end is REQUEST_TIMED_OUT, as errCode says.
		code, msg := errCode(err)
		ke, _ := kerr.ErrorForCode(code).(*kerr.Error)
		me := &metadata.Error{Code: ke}
		if msg != nil {
			me.Message = *msg
		}
		err = me
	}
	return controller.ElectLeadersResponse(req, results, err)
}
