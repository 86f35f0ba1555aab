package broker

// AlterConfigs, versions 0 to 2 (the legacy, replace-everything API).
//
// For a topic resource the request's configs become the topic's complete
// set of overrides: every override not named is removed (a null value also
// removes). For a broker resource the same holds for the dynamic broker
// configs: the empty name is the cluster-wide default, a broker id that
// broker's own configs (DYNAMIC_BROKER_CONFIG, ahead of the cluster-wide
// ones on that broker); any other name gets INVALID_REQUEST. The new set is
// validated as a whole (INVALID_CONFIG with Kafka's message); validate_only
// changes nothing. Unknown topic: UNKNOWN_TOPIC_OR_PARTITION. A resource
// named twice, or an unsupported resource type: INVALID_REQUEST.

import (
	"context"
	"fmt"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(33, 0, 2, handleAlterConfigs) }

func handleAlterConfigs(ctx context.Context, b *Broker, _ *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	return alterConfigs(ctx, b, r.(*kmsg.AlterConfigsRequest)), nil
}

func alterConfigs(ctx context.Context, env *Broker, req *kmsg.AlterConfigsRequest) *kmsg.AlterConfigsResponse {
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	dups := map[string]int{}
	for _, rr := range req.Resources {
		dups[resourceKey(rr.ResourceType, rr.ResourceName)]++
	}
	for _, rr := range req.Resources {
		res := kmsg.NewAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		if dups[resourceKey(rr.ResourceType, rr.ResourceName)] > 1 {
			err = &metadata.Error{Code: kerr.InvalidRequest, Message: "Duplicate resource in the request."}
		} else {
			set := make(map[string]*string, len(rr.Configs))
			for _, c := range rr.Configs {
				set[c.Name] = c.Value
			}
			err = applyConfigs(ctx, env, rr.ResourceType, rr.ResourceName, set, true, req.ValidateOnly)
		}
		res.ErrorCode, res.ErrorMessage = errCode(err)
		resp.Resources = append(resp.Resources, res)
	}
	return resp
}

func resourceKey(t kmsg.ConfigResourceType, name string) string {
	return fmt.Sprintf("%d/%s", t, name)
}

// applyConfigs sends a config change for one resource to the controller.
func applyConfigs(ctx context.Context, env *Broker, typ kmsg.ConfigResourceType, name string, set map[string]*string, replaceAll, validateOnly bool) error {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		if err := metadata.ValidateTopicName(name); err != nil {
			return err
		}
		return env.meta.SetTopicConfigs(ctx, name, set, replaceAll, validateOnly)
	case kmsg.ConfigResourceTypeBroker:
		// "" is the cluster-wide default; a broker id names that broker's
		// own configs, which take precedence on it.
		return env.meta.SetBrokerConfigsOf(ctx, name, set, replaceAll, validateOnly)
	default:
		return &metadata.Error{Code: kerr.InvalidRequest, Message: fmt.Sprintf("Unsupported resource type %s.", typ)}
	}
}
