package broker

// IncrementalAlterConfigs, versions 0 and 1.
//
// Each operation changes one config and leaves the others: SET (a non-null
// value), DELETE (remove the override, back to the inherited value), APPEND
// and SUBTRACT (LIST configs only, such as cleanup.policy: add the missing
// items to, or remove items from, the current value, which is the override
// if any, else the default; an empty result removes the override). APPEND
// or SUBTRACT on a non-list config gets INVALID_CONFIG; an unknown op, a
// config named twice in one resource, a null value for SET/APPEND/SUBTRACT
// or a resource named twice get INVALID_REQUEST. The resulting set is
// validated as a whole; validate_only changes nothing. Resources are topics
// and broker resources (the empty name for the cluster-wide default, a
// broker id for that broker's own configs), as for AlterConfigs.

import (
	"context"
	"fmt"
	"strings"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(44, 0, 1, handleIncrementalAlterConfigs) }

func handleIncrementalAlterConfigs(ctx context.Context, b *Broker, _ *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	return incrementalAlterConfigs(ctx, b, r.(*kmsg.IncrementalAlterConfigsRequest)), nil
}

func incrementalAlterConfigs(ctx context.Context, env *Broker, req *kmsg.IncrementalAlterConfigsRequest) *kmsg.IncrementalAlterConfigsResponse {
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	dups := map[string]int{}
	for _, rr := range req.Resources {
		dups[resourceKey(rr.ResourceType, rr.ResourceName)]++
	}
	for _, rr := range req.Resources {
		res := kmsg.NewIncrementalAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		if dups[resourceKey(rr.ResourceType, rr.ResourceName)] > 1 {
			err = &metadata.Error{Code: kerr.InvalidRequest, Message: "Duplicate resource in the request."}
		} else {
			var set map[string]*string
			if set, err = incrementalChanges(env, rr); err == nil {
				err = applyConfigs(ctx, env, rr.ResourceType, rr.ResourceName, set, false, req.ValidateOnly)
			}
		}
		res.ErrorCode, res.ErrorMessage = errCode(err)
		resp.Resources = append(resp.Resources, res)
	}
	return resp
}

// incrementalChanges turns the operations into the change set the
// controller applies (nil value = delete the override).
func incrementalChanges(env *Broker, rr kmsg.IncrementalAlterConfigsRequestResource) (map[string]*string, error) {
	bad := func(code *kerr.Error, format string, args ...any) error {
		return &metadata.Error{Code: code, Message: fmt.Sprintf(format, args...)}
	}
	im := env.meta.Image()
	var current map[string]string
	switch rr.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		if t := im.Topic(rr.ResourceName); t != nil {
			current = t.Configs
		}
	case kmsg.ConfigResourceTypeBroker:
		current = im.BrokerConfigs
		if rr.ResourceName != "" {
			if id, err := metadata.ParseBrokerResource(rr.ResourceName); err == nil {
				current = im.NodeConfigs[id]
			}
		}
	}
	set := make(map[string]*string, len(rr.Configs))
	for _, c := range rr.Configs {
		if _, dup := set[c.Name]; dup {
			return nil, bad(kerr.InvalidRequest, "Error due to duplicate config keys: %s", c.Name)
		}
		if c.Op != kmsg.IncrementalAlterConfigOpDelete && c.Value == nil {
			return nil, bad(kerr.InvalidRequest, "Null value not supported for: %s", c.Name)
		}
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			set[c.Name] = c.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			set[c.Name] = nil
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			def, isList := listConfig(rr.ResourceType, c.Name)
			if !isList {
				return nil, bad(kerr.InvalidConfig, "Can't %s to key %s because its type is not LIST.", strings.ToUpper(c.Op.String()), c.Name)
			}
			base, ok := current[c.Name]
			if !ok {
				base = def
			}
			items := splitConfigList(base)
			if c.Op == kmsg.IncrementalAlterConfigOpAppend {
				for _, v := range splitConfigList(*c.Value) {
					if !containsString(items, v) {
						items = append(items, v)
					}
				}
			} else {
				remove := splitConfigList(*c.Value)
				kept := items[:0:0]
				for _, v := range items {
					if !containsString(remove, v) {
						kept = append(kept, v)
					}
				}
				items = kept
			}
			if len(items) == 0 {
				set[c.Name] = nil
			} else {
				set[c.Name] = strPtr(strings.Join(items, ","))
			}
		default:
			return nil, bad(kerr.InvalidRequest, "Unknown operation %d for config %s", int8(c.Op), c.Name)
		}
	}
	return set, nil
}

// listConfig reports whether a config is of type LIST, with its default.
func listConfig(typ kmsg.ConfigResourceType, name string) (string, bool) {
	var d *metadata.ConfigDef
	if typ == kmsg.ConfigResourceTypeTopic {
		d = metadata.TopicConfigDef(name)
	} else {
		d = metadata.BrokerConfigDef(name)
	}
	if d == nil || d.Type != metadata.TypeList {
		return "", false
	}
	return d.Default, true
}

func splitConfigList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
