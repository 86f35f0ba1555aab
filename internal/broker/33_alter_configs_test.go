package broker

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAlterConfigs: legacy AlterConfigs replaces a topic's whole set and
// refuses bad values and resources. It also covers IncrementalAlterConfigs
// (44_incremental_alter_configs.go) on a topic and on the cluster-wide
// broker resource.
func TestAlterConfigs(t *testing.T) {
	env := newAdminEnv(t, nil)
	ctx := context.Background()
	createTopic(t, env, "t", 1, map[string]string{"retention.ms": "1000", "segment.ms": "2000"})

	// Legacy AlterConfigs replaces the whole set.
	req := kmsg.NewPtrAlterConfigsRequest()
	req.Version = 2
	rr := kmsg.NewAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "t"
	c := kmsg.NewAlterConfigsRequestResourceConfig()
	c.Name, c.Value = "retention.ms", strPtr("3000")
	rr.Configs = append(rr.Configs, c)
	req.Resources = append(req.Resources, rr)
	if resp := alterConfigs(ctx, env, req); resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("alter: %+v", resp.Resources[0])
	}
	if got := env.meta.Image().Topic("t").Configs; len(got) != 1 || got["retention.ms"] != "3000" {
		t.Fatalf("after legacy alter: %v", got)
	}
	req.Resources[0].Configs[0].Value = strPtr("-5")
	if resp := alterConfigs(ctx, env, req); resp.Resources[0].ErrorCode != kerr.InvalidConfig.Code || resp.Resources[0].ErrorMessage == nil {
		t.Fatalf("invalid value: %+v", resp.Resources[0])
	}
	req.Resources[0].ResourceType, req.Resources[0].ResourceName = kmsg.ConfigResourceTypeBroker, "1"
	if resp := alterConfigs(ctx, env, req); resp.Resources[0].ErrorCode != kerr.InvalidConfig.Code {
		t.Fatalf("a topic config on a broker: %+v", resp.Resources[0])
	}
	req.Resources[0].ResourceName = "one"
	if resp := alterConfigs(ctx, env, req); resp.Resources[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("a broker resource that is not an id: %+v", resp.Resources[0])
	}

	inc := func(validateOnly bool, ops ...kmsg.IncrementalAlterConfigsRequestResourceConfig) kmsg.IncrementalAlterConfigsResponseResource {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		req.Version, req.ValidateOnly = 1, validateOnly
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName, rr.Configs = kmsg.ConfigResourceTypeTopic, "t", ops
		req.Resources = append(req.Resources, rr)
		return incrementalAlterConfigs(ctx, env, req).Resources[0]
	}
	op := func(name string, o kmsg.IncrementalAlterConfigOp, value string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op = name, o
		if value != "<null>" {
			c.Value = strPtr(value)
		}
		return c
	}
	configs := func() map[string]string { return env.meta.Image().Topic("t").Configs }

	if r := inc(false, op("segment.ms", kmsg.IncrementalAlterConfigOpSet, "7000"), op("retention.ms", kmsg.IncrementalAlterConfigOpDelete, "<null>")); r.ErrorCode != 0 {
		t.Fatalf("set/delete: %+v", r)
	}
	if got := configs(); len(got) != 1 || got["segment.ms"] != "7000" {
		t.Fatalf("after set/delete: %v", got)
	}
	if r := inc(false, op("cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, "compact")); r.ErrorCode != 0 || configs()["cleanup.policy"] != "delete,compact" {
		t.Fatalf("append to the default: %+v %v", r, configs())
	}
	if r := inc(false, op("cleanup.policy", kmsg.IncrementalAlterConfigOpSubtract, "delete")); r.ErrorCode != 0 || configs()["cleanup.policy"] != "compact" {
		t.Fatalf("subtract: %+v %v", r, configs())
	}
	if r := inc(false, op("segment.ms", kmsg.IncrementalAlterConfigOpAppend, "1")); r.ErrorCode != kerr.InvalidConfig.Code {
		t.Fatalf("append to a non-list: %+v", r)
	}
	if r := inc(false, op("segment.ms", kmsg.IncrementalAlterConfigOpSet, "1"), op("segment.ms", kmsg.IncrementalAlterConfigOpDelete, "<null>")); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("duplicate key: %+v", r)
	}
	if r := inc(true, op("segment.ms", kmsg.IncrementalAlterConfigOpSet, "9000")); r.ErrorCode != 0 || configs()["segment.ms"] != "7000" {
		t.Fatalf("validate only changed configs: %+v %v", r, configs())
	}
	if r := inc(false, op("no.such", kmsg.IncrementalAlterConfigOpSet, "1")); r.ErrorCode != kerr.InvalidConfig.Code {
		t.Fatalf("unknown config: %+v", r)
	}

	// The cluster-wide broker resource.
	breq := kmsg.NewPtrIncrementalAlterConfigsRequest()
	br := kmsg.NewIncrementalAlterConfigsRequestResource()
	br.ResourceType = kmsg.ConfigResourceTypeBroker
	br.Configs = []kmsg.IncrementalAlterConfigsRequestResourceConfig{op("log.retention.ms", kmsg.IncrementalAlterConfigOpSet, "60000")}
	breq.Resources = append(breq.Resources, br)
	if r := incrementalAlterConfigs(ctx, env, breq).Resources[0]; r.ErrorCode != 0 || env.meta.Image().BrokerConfigs["log.retention.ms"] != "60000" {
		t.Fatalf("broker config: %+v", r)
	}
}
