package broker

// ApiVersions, versions 0 to 4.
//
// The response lists every API in the table with the versions it fully
// serves. Versions 3+ carry the client's software name and version, which
// must match Kafka's pattern or the answer is INVALID_REQUEST (still listing
// the APIs). A request of a version above 4 never reaches this handler: the
// dispatcher answers it with UNSUPPORTED_VERSION in the v0 format (KIP-511).
// No features are finalized yet, so FinalizedFeatures is empty.

import (
	"context"
	"regexp"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(18, 0, 4, handleAPIVersions) }

// softwareNameRE is Kafka's rule for client software names and versions.
var softwareNameRE = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)

func handleAPIVersions(_ context.Context, _ *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = SupportedAPIs()
	if req.Version >= 3 && (!softwareNameRE.MatchString(req.ClientSoftwareName) || !softwareNameRE.MatchString(req.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
	}
	return resp, nil
}
