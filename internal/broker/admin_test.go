package broker

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/replica"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newAdminEnv opens a one-node metadata store (node 1 registered) and an
// newAdminEnv opens a node's replica manager (node 1, rack r1) on a
// temporary directory and the handlers' environment over it, without a
// network; overrides are static node configs.
func newAdminEnv(t *testing.T, overrides map[string]string) *Broker {
	t.Helper()
	props := map[string]string{"log.dirs": t.TempDir(), "samsa.admin.listener": ""}
	for k, v := range overrides {
		props[k] = v
	}
	cfg, err := config.Load(config.Sources{Overrides: props})
	if err != nil {
		t.Fatal(err)
	}
	rm, err := replica.Open(cfg, replica.Options{Logger: quiet(), AdvertisedAddr: "127.0.0.1:9092"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rm.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rm.Metadata().RegisterBroker(ctx, metadata.Broker{ID: 1, Host: "127.0.0.1", Port: 9092, Rack: "r1"}); err != nil {
		t.Fatal(err)
	}
	return &Broker{cfg: cfg, logger: quiet(), meta: rm.Metadata(), replicas: rm, sessions: newFetchSessionCache(int(cfg.FetchMaxSessions), nil)}
}

func createTopic(t *testing.T, env *Broker, name string, partitions int32, configs map[string]string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, -1
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, strPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp := createTopics(context.Background(), env, req)
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}

func ctReq(version int16, validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.ValidateOnly, req.Topics, req.TimeoutMillis = version, validateOnly, topics, 5000
	return req
}

func ctTopic(name string, n int32, rf int16, configs ...string) kmsg.CreateTopicsRequestTopic {
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, n, rf
	for i := 0; i+1 < len(configs); i += 2 {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name = configs[i]
		if configs[i+1] != "<null>" {
			c.Value = strPtr(configs[i+1])
		}
		rt.Configs = append(rt.Configs, c)
	}
	return rt
}

func TestCreateTopics(t *testing.T) {
	env := newAdminEnv(t, nil)
	ctx := context.Background()

	resp := createTopics(ctx, env, ctReq(7, false, ctTopic("orders", 3, -1, "retention.ms", "1000")))
	got := resp.Topics[0]
	if got.ErrorCode != 0 || got.NumPartitions != 3 || got.ReplicationFactor != 1 || got.TopicID == ([16]byte{}) {
		t.Fatalf("create: %+v", got)
	}
	sources := map[string]int8{}
	for _, c := range got.Configs {
		sources[c.Name] = c.Source
		if c.Name == "retention.ms" && (c.Value == nil || *c.Value != "1000") {
			t.Fatalf("retention.ms = %v", c.Value)
		}
	}
	if sources["retention.ms"] != int8(kmsg.ConfigSourceDynamicTopicConfig) || sources["segment.bytes"] != int8(kmsg.ConfigSourceDefaultConfig) {
		t.Fatalf("config sources %v", sources)
	}
	if top := env.meta.Image().Topic("orders"); top == nil || len(top.Partitions) != 3 || top.ID != got.TopicID {
		t.Fatalf("image topic %+v", top)
	}

	assigned := ctTopic("assigned", -1, -1)
	for p := int32(0); p < 2; p++ {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = p, []int32{1}
		assigned.ReplicaAssignment = append(assigned.ReplicaAssignment, a)
	}

	for _, tc := range []struct {
		name    string
		req     *kmsg.CreateTopicsRequest
		want    []*kerr.Error
		created bool
	}{
		{"exists", ctReq(7, false, ctTopic("orders", 1, 1)), []*kerr.Error{kerr.TopicAlreadyExists}, true},
		{"bad name", ctReq(7, false, ctTopic("bad/name", 1, 1)), []*kerr.Error{kerr.InvalidTopicException}, false},
		{"zero partitions", ctReq(7, false, ctTopic("zero", 0, 1)), []*kerr.Error{kerr.InvalidPartitions}, false},
		{"replication factor", ctReq(7, false, ctTopic("rf3", 1, 3)), []*kerr.Error{kerr.InvalidReplicationFactor}, false},
		{"bad config value", ctReq(7, false, ctTopic("badcfg", 1, 1, "retention.ms", "soon")), []*kerr.Error{kerr.InvalidConfig}, false},
		{"unknown config", ctReq(7, false, ctTopic("unkcfg", 1, 1, "no.such.config", "1")), []*kerr.Error{kerr.InvalidConfig}, false},
		{"null config", ctReq(7, false, ctTopic("nullcfg", 1, 1, "retention.ms", "<null>")), []*kerr.Error{kerr.InvalidConfig}, false},
		{"validate only", ctReq(7, true, ctTopic("dry", 2, 1)), []*kerr.Error{nil}, false},
		{"duplicate in request", ctReq(7, false, ctTopic("dup", 1, 1), ctTopic("dup", 1, 1)), []*kerr.Error{kerr.InvalidRequest}, false},
		{"explicit assignment", ctReq(7, false, assigned), []*kerr.Error{nil}, true},
		{"defaults", ctReq(4, false, ctTopic("defaults", -1, -1)), []*kerr.Error{nil}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := createTopics(ctx, env, tc.req)
			if len(resp.Topics) != len(tc.want) {
				t.Fatalf("%d topics in response, want %d", len(resp.Topics), len(tc.want))
			}
			for i, want := range tc.want {
				rt := resp.Topics[i]
				if got := kerr.ErrorForCode(rt.ErrorCode); got != error(want) && !(want == nil && got == nil) {
					t.Fatalf("topic %s: error %v, want %v", rt.Topic, got, want)
				}
				if want != nil && rt.ErrorMessage == nil {
					t.Fatalf("topic %s: no error message", rt.Topic)
				}
				if exists := env.meta.Image().Topic(rt.Topic) != nil; exists != tc.created {
					t.Fatalf("topic %s exists = %v, want %v", rt.Topic, exists, tc.created)
				}
			}
		})
	}
	if top := env.meta.Image().Topic("assigned"); len(top.Partitions) != 2 {
		t.Fatalf("assigned: %+v", top)
	}
	if top := env.meta.Image().Topic("defaults"); len(top.Partitions) != 1 {
		t.Fatalf("num.partitions default: %+v", top)
	}
	// v0 has no error messages.
	resp = createTopics(ctx, env, ctReq(0, false, ctTopic("orders", 1, 1)))
	if resp.Topics[0].ErrorCode != kerr.TopicAlreadyExists.Code || resp.Topics[0].ErrorMessage != nil {
		t.Fatalf("v0: %+v", resp.Topics[0])
	}
}

func TestDeleteTopics(t *testing.T) {
	env := newAdminEnv(t, nil)
	ctx := context.Background()
	createTopic(t, env, "a", 1, nil)
	createTopic(t, env, "b", 1, nil)
	idB := env.meta.Image().Topic("b").ID

	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version, req.TimeoutMillis = 5, 5000
	req.TopicNames = []string{"a", "nope"}
	resp := deleteTopics(ctx, env, req)
	if resp.Topics[0].ErrorCode != 0 || resp.Topics[1].ErrorCode != kerr.UnknownTopicOrPartition.Code || resp.Topics[1].ErrorMessage == nil {
		t.Fatalf("by name: %+v", resp.Topics)
	}
	if env.meta.Image().Topic("a") != nil {
		t.Fatal("a still exists")
	}

	req = kmsg.NewPtrDeleteTopicsRequest()
	req.Version, req.TimeoutMillis = 6, 5000
	byID := kmsg.NewDeleteTopicsRequestTopic()
	byID.TopicID = idB
	unknownID := kmsg.NewDeleteTopicsRequestTopic()
	unknownID.TopicID = [16]byte{9, 9}
	both := kmsg.NewDeleteTopicsRequestTopic()
	both.Topic, both.TopicID = strPtr("x"), [16]byte{7}
	req.Topics = []kmsg.DeleteTopicsRequestTopic{byID, unknownID, both}
	resp = deleteTopics(ctx, env, req)
	if resp.Topics[0].ErrorCode != 0 || resp.Topics[0].Topic == nil || *resp.Topics[0].Topic != "b" {
		t.Fatalf("by id: %+v", resp.Topics[0])
	}
	if resp.Topics[1].ErrorCode != kerr.UnknownTopicID.Code || resp.Topics[2].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("errors: %+v", resp.Topics[1:])
	}
	if env.meta.Image().Topic("b") != nil {
		t.Fatal("b still exists")
	}
}

func TestCreatePartitions(t *testing.T) {
	env := newAdminEnv(t, nil)
	ctx := context.Background()
	createTopic(t, env, "grow", 2, nil)
	grow := func(validateOnly bool, topics ...kmsg.CreatePartitionsRequestTopic) *kmsg.CreatePartitionsResponse {
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.Version, req.TimeoutMillis, req.ValidateOnly, req.Topics = 3, 5000, validateOnly, topics
		return createPartitions(ctx, env, req)
	}
	topic := func(name string, count int32) kmsg.CreatePartitionsRequestTopic {
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = name, count
		return rt
	}
	resp := grow(false, topic("grow", 4), topic("nope", 2), topic("twice", 2), topic("twice", 3))
	want := []int16{0, kerr.UnknownTopicOrPartition.Code, kerr.InvalidRequest.Code}
	if len(resp.Topics) != len(want) {
		t.Fatalf("%+v", resp.Topics)
	}
	for i, w := range want {
		if resp.Topics[i].ErrorCode != w {
			t.Fatalf("topic %d: %+v, want code %d", i, resp.Topics[i], w)
		}
	}
	if n := len(env.meta.Image().Topic("grow").Partitions); n != 4 {
		t.Fatalf("partitions %d, want 4", n)
	}
	if resp := grow(false, topic("grow", 3)); resp.Topics[0].ErrorCode != kerr.InvalidPartitions.Code || resp.Topics[0].ErrorMessage == nil {
		t.Fatalf("shrink: %+v", resp.Topics[0])
	}
	if resp := grow(true, topic("grow", 6)); resp.Topics[0].ErrorCode != 0 || len(env.meta.Image().Topic("grow").Partitions) != 4 {
		t.Fatalf("validate only: %+v", resp.Topics[0])
	}
}
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

func strOr(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

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

func TestDescribeCluster(t *testing.T) {
	env := newAdminEnv(t, nil)
	req := kmsg.NewPtrDescribeClusterRequest()
	req.Version, req.EndpointType, req.IncludeClusterAuthorizedOperations = 2, 1, true
	resp := describeCluster(env, req)
	im := env.meta.Image()
	if resp.ErrorCode != 0 || resp.ClusterID != im.ClusterID || resp.ControllerID != 1 || len(resp.Brokers) != 1 ||
		resp.Brokers[0].Port != 9092 || strOr(resp.Brokers[0].Rack) != "r1" || resp.ClusterAuthorizedOperations != clusterAuthorizedOps {
		t.Fatalf("%+v", resp)
	}
	req.IncludeClusterAuthorizedOperations = false
	if resp := describeCluster(env, req); resp.ClusterAuthorizedOperations != authorizedOpsNotRequested {
		t.Fatalf("ops not requested: %d", resp.ClusterAuthorizedOperations)
	}
	req.EndpointType = 2
	if resp := describeCluster(env, req); resp.ErrorCode != kerr.UnsupportedEndpointType.Code {
		t.Fatalf("controller endpoint: %+v", resp)
	}
}

func TestDescribeTopicPartitionsPaging(t *testing.T) {
	env := newAdminEnv(t, nil)
	createTopic(t, env, "a", 3, nil)
	createTopic(t, env, "b", 2, nil)
	createTopic(t, env, "c", 1, nil)

	type seen struct {
		topic string
		p     int32
	}
	var all []seen
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	req.ResponsePartitionLimit = 2
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("no end to the pages")
		}
		resp := describeTopicPartitions(env, req)
		for _, rt := range resp.Topics {
			if rt.ErrorCode != 0 || rt.TopicID == ([16]byte{}) || rt.AuthorizedOperations != topicAuthorizedOps {
				t.Fatalf("topic %+v", rt)
			}
			for _, p := range rt.Partitions {
				if p.LeaderID != 1 || len(p.Replicas) != 1 || len(p.ISR) != 1 {
					t.Fatalf("partition %+v", p)
				}
				all = append(all, seen{*rt.Topic, p.Partition})
			}
		}
		if resp.NextCursor == nil {
			break
		}
		req.Cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: resp.NextCursor.Topic, Partition: resp.NextCursor.Partition}
	}
	want := []seen{{"a", 0}, {"a", 1}, {"a", 2}, {"b", 0}, {"b", 1}, {"c", 0}}
	if len(all) != len(want) {
		t.Fatalf("pages gave %v, want %v", all, want)
	}
	for i := range want {
		if all[i] != want[i] {
			t.Fatalf("pages gave %v, want %v", all, want)
		}
	}

	req = kmsg.NewPtrDescribeTopicPartitionsRequest()
	for _, n := range []string{"c", "nope", "a"} {
		rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
		rt.Topic = n
		req.Topics = append(req.Topics, rt)
	}
	resp := describeTopicPartitions(env, req)
	if len(resp.Topics) != 3 || *resp.Topics[0].Topic != "a" || *resp.Topics[1].Topic != "c" ||
		resp.Topics[2].ErrorCode != kerr.UnknownTopicOrPartition.Code || resp.NextCursor != nil {
		t.Fatalf("named topics: %+v", resp.Topics)
	}
	req.Cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "b"}
	if resp := describeTopicPartitions(env, req); resp.Topics[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("cursor outside the requested topics: %+v", resp.Topics)
	}
}

func TestInitProducerID(t *testing.T) {
	env := newAdminEnv(t, nil)
	ctx := context.Background()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version, req.ProducerID, req.ProducerEpoch = 4, -1, -1
	seen := map[int64]bool{}
	for i := 0; i < replica.ProducerIDBlockSize+5; i++ {
		resp := initProducerID(ctx, env, req)
		if resp.ErrorCode != 0 || resp.ProducerEpoch != 0 || seen[resp.ProducerID] {
			t.Fatalf("allocation %d: %+v", i, resp)
		}
		seen[resp.ProducerID] = true
	}
	if next := env.meta.Image().NextProducerID; next != 2*replica.ProducerIDBlockSize {
		t.Fatalf("reserved up to %d, want two blocks", next)
	}
	// A v3+ recovery request gets a fresh id, as Kafka's coordinator answers
	// idempotent producers.
	req.ProducerID, req.ProducerEpoch = 5, 3
	if resp := initProducerID(ctx, env, req); resp.ErrorCode != 0 || seen[resp.ProducerID] || resp.ProducerEpoch != 0 {
		t.Fatalf("recovery: %+v", resp)
	}
	req.ProducerID, req.ProducerEpoch = 5, -1
	if resp := initProducerID(ctx, env, req); resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("half a producer id: %+v", resp)
	}
	req.ProducerID, req.ProducerEpoch, req.TransactionalID = -1, -1, strPtr("tx")
	if resp := initProducerID(ctx, env, req); resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("transactional: %+v", resp)
	}
}

// samsa.max.partitions.per.request counts every topic of a request: two
// topics that fit alone are refused together, and nothing is created.
func TestCreateRequestPartitionLimit(t *testing.T) {
	env := newAdminEnv(t, map[string]string{"samsa.max.partitions.per.request": "10"})
	ctx := context.Background()
	resp := createTopics(ctx, env, ctReq(7, false, ctTopic("a", 6, -1), ctTopic("b", 5, -1)))
	for _, rt := range resp.Topics {
		if rt.ErrorCode != kerr.PolicyViolation.Code || rt.ErrorMessage == nil || !strings.Contains(*rt.ErrorMessage, "11 partitions in one request, more than samsa.max.partitions.per.request (10)") {
			t.Fatalf("topic %s: code %d message %v", rt.Topic, rt.ErrorCode, rt.ErrorMessage)
		}
	}
	if len(env.meta.Image().Topics) != 0 {
		t.Fatalf("a refused request created topics: %v", env.meta.Image().TopicNames())
	}
	resp = createTopics(ctx, env, ctReq(7, false, ctTopic("a", 6, -1), ctTopic("b", 4, -1)))
	for _, rt := range resp.Topics {
		if rt.ErrorCode != 0 {
			t.Fatalf("topic %s at the limit: code %d", rt.Topic, rt.ErrorCode)
		}
	}
	cp := kmsg.NewPtrCreatePartitionsRequest()
	for _, name := range []string{"a", "b"} {
		t := kmsg.NewCreatePartitionsRequestTopic()
		t.Topic, t.Count = name, 12
		cp.Topics = append(cp.Topics, t)
	}
	for _, rt := range createPartitions(ctx, env, cp).Topics {
		if rt.ErrorCode != kerr.PolicyViolation.Code {
			t.Fatalf("grow %s by 14 in all: code %d", rt.Topic, rt.ErrorCode)
		}
	}
}

// A broker's own dynamic configs (the broker resource named after its id)
// take precedence over the cluster-wide ones on that broker, as Kafka's
// DYNAMIC_BROKER_CONFIG does, in what DescribeConfigs reports for the
// broker and for its topics.
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
