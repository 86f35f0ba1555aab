package broker

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// renderElectLeaders renders a response as "[code] topic: partition=CODE(message) ...;".
func renderElectLeaders(resp *kmsg.ElectLeadersResponse) string {
	name := func(code int16) string {
		if code == 0 {
			return "NONE"
		}
		return kerr.ErrorForCode(code).(*kerr.Error).Message
	}
	out := "[" + name(resp.ErrorCode) + "]"
	for _, t := range resp.Topics {
		out += " " + t.Topic + ":"
		for _, p := range t.Partitions {
			out += fmt.Sprintf(" %d=%s", p.Partition, name(p.ErrorCode))
			if p.ErrorMessage != nil {
				out += "(" + *p.ErrorMessage + ")"
			}
		}
		out += ";"
	}
	return out
}

func TestElectLeaders(t *testing.T) {
	env := newAdminEnv(t, nil)
	ctx := context.Background()
	if _, ok := handlers[43]; !ok || handlers[43].minVersion != 0 || handlers[43].maxVersion != 2 {
		t.Fatalf("API table: %+v", handlers[43])
	}
	store := env.replicas.Metadata()
	if err := store.RegisterBroker(ctx, metadata.Broker{ID: 2, Host: "127.0.0.1", Port: 1}); err != nil {
		t.Fatal(err)
	}
	tp, err := store.CreateTopic(ctx, metadata.CreateTopicRequest{Name: "el", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {1, 2}, 1: {1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.ChangePartition(ctx, tp.ID, 0, 2, nil); err != nil {
		t.Fatal(err)
	}
	elect := func(version int16, typ int8, topics map[string][]int32) *kmsg.ElectLeadersResponse {
		req := kmsg.NewPtrElectLeadersRequest()
		req.Version, req.ElectionType, req.TimeoutMillis = version, typ, 5000
		if topics != nil {
			req.Topics = []kmsg.ElectLeadersRequestTopic{}
			for _, name := range []string{"el", "nope"} {
				if ps, ok := topics[name]; ok {
					rt := kmsg.NewElectLeadersRequestTopic()
					rt.Topic, rt.Partitions = name, ps
					req.Topics = append(req.Topics, rt)
				}
			}
		}
		return electLeaders(ctx, env, req)
	}

	cases := []struct {
		name    string
		version int16
		typ     int8
		topics  map[string][]int32
		want    string
	}{
		{"preferred", 2, 0, map[string][]int32{"el": {0, 1, 5}, "nope": {0}},
			"[NONE] el: 0=NONE 1=ELECTION_NOT_NEEDED(Leader election not needed for topic partition.) 5=UNKNOWN_TOPIC_OR_PARTITION(No such partition as el-5);" +
				" nope: 0=UNKNOWN_TOPIC_OR_PARTITION(No such topic as nope);"},
		{"unclean with leaders", 1, 1, map[string][]int32{"el": {0}},
			"[NONE] el: 0=ELECTION_NOT_NEEDED(Leader election not needed for topic partition.);"},
		{"version 0 is always preferred", 0, 1, map[string][]int32{"el": {1}},
			"[NONE] el: 1=ELECTION_NOT_NEEDED(Leader election not needed for topic partition.);"},
		{"unknown election type", 2, 7, map[string][]int32{"el": {0, 1}},
			"[INVALID_REQUEST] el: 0=INVALID_REQUEST(Unknown election type 7) 1=INVALID_REQUEST(Unknown election type 7);"},
		{"every partition, none needing it", 2, 0, nil, "[NONE] el:;"},
		{"no partitions", 2, 0, map[string][]int32{}, "[NONE]"},
	}
	for _, c := range cases {
		resp := elect(c.version, c.typ, c.topics)
		if got := renderElectLeaders(resp); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
		// The answer encodes at the request's version.
		back := kmsg.NewPtrElectLeadersResponse()
		back.Version = c.version
		if err := back.ReadFrom(resp.AppendTo(nil)); err != nil || len(back.Topics) != len(resp.Topics) {
			t.Errorf("%s: the answer does not decode at version %d: %v", c.name, c.version, err)
		}
	}
	if p, _ := env.meta.Image().Partition("el", 0); p.Leader != 1 || p.LeaderEpoch != 2 {
		t.Fatalf("partition 0 after the election: %+v", p)
	}
}
