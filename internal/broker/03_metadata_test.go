package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestMetadata: the brokers, cluster id and controller, and the topics
// asked for, by name or by id (v10+), with their partitions' leaders,
// epochs, replicas and ISR; every topic for a null list (an empty one in
// v0). An unknown topic gets UNKNOWN_TOPIC_OR_PARTITION unless the
// request may create it (then it is described as created, with the node's
// defaults), an unknown id UNKNOWN_TOPIC_ID, a name that cannot be a topic
// INVALID_TOPIC_EXCEPTION, a topic named neither way INVALID_REQUEST; with
// auto.create.topics.enable off nothing is created. Other APIs it uses:
// CreateTopics.
func TestMetadata(t *testing.T) {
	env := newAdminEnv(t, nil)
	createTopic(t, env, "t", 2, nil)
	im := env.meta.Image()
	id := im.Topic("t").ID
	metadata := func(env *Broker, version int16, autoCreate bool, topics ...kmsg.MetadataRequestTopic) *kmsg.MetadataResponse {
		t.Helper()
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(version)
		req.Topics, req.AllowAutoTopicCreation = topics, autoCreate
		return serveReq(t, env, req).(*kmsg.MetadataResponse)
	}
	named := func(name string) kmsg.MetadataRequestTopic {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = &name
		return rt
	}
	byID := func(id [16]byte) kmsg.MetadataRequestTopic {
		rt := kmsg.NewMetadataRequestTopic()
		rt.TopicID = id
		return rt
	}

	resp := metadata(env, 12, false, named("t"), named("nope"), byID(id), byID([16]byte{1}), kmsg.NewMetadataRequestTopic())
	if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 1 || resp.Brokers[0].Host != "127.0.0.1" || resp.Brokers[0].Port != 9092 || strOr(resp.Brokers[0].Rack) != "r1" {
		t.Fatalf("brokers %+v", resp.Brokers)
	}
	if strOr(resp.ClusterID) != im.ClusterID || resp.ControllerID != 1 {
		t.Fatalf("cluster %s controller %d", strOr(resp.ClusterID), resp.ControllerID)
	}
	if len(resp.Topics) != 5 {
		t.Fatalf("%d topics, want 5", len(resp.Topics))
	}
	for _, i := range []int{0, 2} { // by name and by id
		rt := resp.Topics[i]
		if rt.ErrorCode != 0 || strOr(rt.Topic) != "t" || rt.TopicID != id || rt.IsInternal || len(rt.Partitions) != 2 {
			t.Fatalf("topic %d: %+v", i, rt)
		}
		for _, p := range rt.Partitions {
			if p.ErrorCode != 0 || p.Leader != 1 || p.LeaderEpoch != 0 || len(p.Replicas) != 1 || len(p.ISR) != 1 || len(p.OfflineReplicas) != 0 {
				t.Fatalf("partition %+v", p)
			}
		}
	}
	for i, want := range map[int]*kerr.Error{1: kerr.UnknownTopicOrPartition, 3: kerr.UnknownTopicID, 4: kerr.InvalidRequest} {
		if got := resp.Topics[i].ErrorCode; got != want.Code {
			t.Errorf("topic %d: %v, want %v", i, kerr.ErrorForCode(got), want)
		}
	}

	resp = metadata(env, 12, true, named("auto"), named("bad name!"))
	if rt := resp.Topics[0]; rt.ErrorCode != 0 || len(rt.Partitions) != 1 || rt.Partitions[0].Leader != 1 || env.meta.Image().Topic("auto") == nil {
		t.Fatalf("auto-created: %+v", rt)
	}
	if _, ok := env.replicas.Partition("auto", 0); !ok {
		t.Fatal("the auto-created topic is not hosted when the answer comes")
	}
	if rt := resp.Topics[1]; rt.ErrorCode != kerr.InvalidTopicException.Code {
		t.Fatalf("bad name: %v", kerr.ErrorForCode(rt.ErrorCode))
	}

	for _, version := range []int16{0, 12} {
		var all *kmsg.MetadataResponse
		if version == 0 {
			all = metadata(env, 0, false, []kmsg.MetadataRequestTopic{}...)
		} else {
			all = metadata(env, 12, false) // null topics
		}
		if len(all.Topics) != 2 || strOr(all.Topics[0].Topic) != "auto" || strOr(all.Topics[1].Topic) != "t" {
			t.Fatalf("v%d every topic: %+v", version, all.Topics)
		}
	}

	off := newAdminEnv(t, map[string]string{"auto.create.topics.enable": "false"})
	if rt := metadata(off, 12, true, named("auto")).Topics[0]; rt.ErrorCode != kerr.UnknownTopicOrPartition.Code || off.meta.Image().Topic("auto") != nil {
		t.Fatalf("auto creation off: %v", kerr.ErrorForCode(rt.ErrorCode))
	}
}
