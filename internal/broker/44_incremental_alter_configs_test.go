package broker

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// A broker's own dynamic configs (the broker resource named after its id)
// take precedence over the cluster-wide ones on that broker, as Kafka's
// DYNAMIC_BROKER_CONFIG does, in what DescribeConfigs reports for the
// broker and for its topics.
//
// Other APIs it uses: CreateTopics, DescribeConfigs.
func TestPerBrokerConfigs(t *testing.T) {
	env := newAdminEnv(t, nil)
	ctx := context.Background()
	createTopic(t, env, "t", 1, nil)
	alter := func(name, key, value string) {
		t.Helper()
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, name
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value, c.Op = key, strPtr(value), kmsg.IncrementalAlterConfigOpSet
		rr.Configs = append(rr.Configs, c)
		req.Resources = append(req.Resources, rr)
		if r := incrementalAlterConfigs(ctx, env, req).Resources[0]; r.ErrorCode != 0 {
			t.Fatalf("set %s=%s on broker %q: %+v", key, value, name, r)
		}
	}
	alter("", "log.retention.ms", "5000")
	alter("1", "log.retention.hours", "2")
	alter("2", "log.retention.ms", "9") // another broker's: not this one's
	if got := env.meta.Image().NodeConfigs[1]["log.retention.hours"]; got != "2" {
		t.Fatalf("node 1's configs: %v", env.meta.Image().NodeConfigs)
	}
	describe := func(typ kmsg.ConfigResourceType, name, key string) kmsg.DescribeConfigsResponseResourceConfig {
		t.Helper()
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.Version, req.IncludeSynonyms = 4, true
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName, rr.ConfigNames = typ, name, []string{key}
		req.Resources = append(req.Resources, rr)
		res := describeConfigs(env, req).Resources[0]
		if res.ErrorCode != 0 || len(res.Configs) != 1 {
			t.Fatalf("describe %v %q %s: %+v", typ, name, key, res)
		}
		return res.Configs[0]
	}
	// This broker's hours outrank the cluster-wide ms: 2 h.
	c := describe(kmsg.ConfigResourceTypeTopic, "t", "retention.ms")
	if c.Value == nil || *c.Value != "7200000" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Fatalf("topic retention.ms: %v from %v", c.Value, c.Source)
	}
	if len(c.ConfigSynonyms) < 2 || c.ConfigSynonyms[0].Name != "log.retention.hours" || c.ConfigSynonyms[1].Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Fatalf("synonyms: %+v", c.ConfigSynonyms)
	}
	c = describe(kmsg.ConfigResourceTypeBroker, "1", "log.retention.hours")
	if c.Value == nil || *c.Value != "2" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Fatalf("broker log.retention.hours: %v from %v", c.Value, c.Source)
	}
	// Deleting it brings the cluster-wide value back.
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
	del := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	del.Name, del.Op = "log.retention.hours", kmsg.IncrementalAlterConfigOpDelete
	rr.Configs = append(rr.Configs, del)
	req.Resources = append(req.Resources, rr)
	if r := incrementalAlterConfigs(ctx, env, req).Resources[0]; r.ErrorCode != 0 {
		t.Fatalf("delete: %+v", r)
	}
	c = describe(kmsg.ConfigResourceTypeTopic, "t", "retention.ms")
	if c.Value == nil || *c.Value != "5000" || c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Fatalf("after delete: %v from %v", c.Value, c.Source)
	}
}
