package broker

import (
	"context"
	"strconv"
	"testing"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeTopicConfigs(t *testing.T, env *Broker, topic string, names ...string) map[string]kmsg.DescribeConfigsResponseResourceConfig {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Version, req.IncludeSynonyms, req.IncludeDocumentation = 4, true, true
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	if len(names) > 0 {
		rr.ConfigNames = names
	}
	req.Resources = append(req.Resources, rr)
	resp := describeConfigs(env, req)
	if err := kerr.ErrorForCode(resp.Resources[0].ErrorCode); err != nil {
		t.Fatalf("describe %s: %v", topic, err)
	}
	out := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
	for _, c := range resp.Resources[0].Configs {
		out[c.Name] = c
	}
	return out
}

// TestDescribeConfigsSources: every topic config with its value, source,
// documentation and synonyms, as topic, static, dynamic and default values
// override one another; broker resources and unknown ones. Other APIs it
// uses: CreateTopics.
func TestDescribeConfigsSources(t *testing.T) {
	env := newAdminEnv(t, map[string]string{"log.retention.hours": "48", "message.max.bytes": "2000000"})
	ctx := context.Background()
	createTopic(t, env, "t", 1, map[string]string{"cleanup.policy": "compact"})

	cfgs := describeTopicConfigs(t, env, "t")
	if len(cfgs) != len(metadata.TopicConfigDefs()) {
		t.Fatalf("%d configs, want every topic config (%d)", len(cfgs), len(metadata.TopicConfigDefs()))
	}
	check := func(name, value string, source kmsg.ConfigSource) {
		t.Helper()
		c := cfgs[name]
		if c.Value == nil || *c.Value != value || c.Source != source || c.IsDefault != (source == kmsg.ConfigSourceDefaultConfig) {
			t.Errorf("%s = %v source %v default %v; want %s source %v", name, strOr(c.Value), c.Source, c.IsDefault, value, source)
		}
		if c.Documentation == nil || c.ConfigType == 0 {
			t.Errorf("%s: no documentation or type", name)
		}
	}
	check("cleanup.policy", "compact", kmsg.ConfigSourceDynamicTopicConfig)
	check("retention.ms", strconv.Itoa(48*3600*1000), kmsg.ConfigSourceStaticBrokerConfig)
	check("max.message.bytes", "2000000", kmsg.ConfigSourceStaticBrokerConfig)
	check("segment.bytes", "1073741824", kmsg.ConfigSourceDefaultConfig)
	check("remote.storage.enable", "false", kmsg.ConfigSourceDefaultConfig)

	syn := cfgs["retention.ms"].ConfigSynonyms
	if len(syn) != 2 || syn[0].Name != "log.retention.hours" || syn[0].Source != kmsg.ConfigSourceStaticBrokerConfig ||
		syn[1].Name != "log.retention.hours" || syn[1].Source != kmsg.ConfigSourceDefaultConfig || *syn[1].Value != "168" {
		t.Errorf("retention.ms synonyms %+v", syn)
	}

	// A cluster-wide dynamic value beats the static one.
	if err := env.meta.SetBrokerConfigsOf(ctx, "", map[string]*string{"log.retention.ms": strPtr("5000")}, false, false); err != nil {
		t.Fatal(err)
	}
	cfgs = describeTopicConfigs(t, env, "t", "retention.ms")
	if len(cfgs) != 1 {
		t.Fatalf("ConfigNames filter: %d configs", len(cfgs))
	}
	check("retention.ms", "5000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)

	// Unknown topic, bad broker id, unsupported type.
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Version = 1
	for _, r := range []struct {
		typ  kmsg.ConfigResourceType
		name string
	}{{kmsg.ConfigResourceTypeTopic, "nope"}, {kmsg.ConfigResourceTypeBroker, "7"}, {kmsg.ConfigResourceTypeBrokerLogger, "1"}, {kmsg.ConfigResourceTypeBroker, "1"}, {kmsg.ConfigResourceTypeBroker, ""}} {
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = r.typ, r.name
		req.Resources = append(req.Resources, rr)
	}
	resp := describeConfigs(env, req)
	wantCodes := []int16{kerr.UnknownTopicOrPartition.Code, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, 0, 0}
	for i, w := range wantCodes {
		if resp.Resources[i].ErrorCode != w {
			t.Errorf("resource %d: code %d, want %d", i, resp.Resources[i].ErrorCode, w)
		}
	}
	broker := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
	for _, c := range resp.Resources[3].Configs {
		broker[c.Name] = c
	}
	if c := broker["log.retention.ms"]; c.Value == nil || *c.Value != "5000" || c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig || c.ReadOnly {
		t.Errorf("broker log.retention.ms %+v", c)
	}
	if c := broker["log.retention.hours"]; c.Value == nil || *c.Value != "48" || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Errorf("broker log.retention.hours %+v", c)
	}
	if c := broker["node.id"]; c.Value == nil || *c.Value != "1" || !c.ReadOnly {
		t.Errorf("broker node.id %+v", c)
	}
	if d := resp.Resources[4].Configs; len(d) != 1 || d[0].Name != "log.retention.ms" {
		t.Errorf("cluster default resource %+v", d)
	}
}
