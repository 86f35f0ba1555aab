package broker

// ApiVersions, versions 0 to 4.
//
// The response lists every API in the table with the versions it fully
// serves. Versions 3+ carry the client's software name and version, which
// must match Kafka's pattern or the answer is INVALID_REQUEST (still listing
// the APIs). A request of a version above 4 never reaches this handler: the
// dispatcher answers it with UNSUPPORTED_VERSION in the v0 format (KIP-511).
//
// Versions 3+ also carry the features (KIP-584): SupportedFeatures names
// the levels this node can run (transaction.version 0 to 2), and
// FinalizedFeatures the levels the cluster runs, from FeatureLevel records
// of the metadata image, with FinalizedFeaturesEpoch the image's epoch
// (clients take the features of the highest epoch they have seen). Java
// 4.x producers and franz-go run transaction protocol version 2 (KIP-890
// part 2) when transaction.version is finalized at 2.

import (
	"context"
	"regexp"
	"sort"

	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(18, 0, 4, handleAPIVersions) }

// softwareNameRE is Kafka's rule for client software names and versions.
var softwareNameRE = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)

func handleAPIVersions(_ context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = SupportedAPIs()
	if req.Version >= 3 {
		b.appendFeatures(resp)
	}
	if req.Version >= 3 && (!softwareNameRE.MatchString(req.ClientSoftwareName) || !softwareNameRE.MatchString(req.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
	}
	return resp, nil
}

// supportedFeatures are the feature levels this node serves.
var supportedFeatures = []struct {
	name     string
	min, max int16
}{
	{txn.FeatureName, 0, txn.MaxTransactionVersion},
}

// appendFeatures fills the features of an ApiVersions response.
func (b *Broker) appendFeatures(resp *kmsg.ApiVersionsResponse) {
	for _, f := range supportedFeatures {
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = f.name, f.min, f.max
		resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
	}
	if b == nil || b.meta == nil {
		return
	}
	im := b.meta.Image()
	names := make([]string, 0, len(im.Features))
	for name, level := range im.Features {
		if level > 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		ff := kmsg.NewApiVersionsResponseFinalizedFeature()
		ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = name, im.Features[name], im.Features[name]
		resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
	}
	resp.FinalizedFeaturesEpoch = im.Epoch
}
