package controller

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// TestCreateTopicForwardedWithItsID: the topic id a forwarding node chose
// survives the trip through a CreateTopics request on the wire.
func TestCreateTopicForwardedWithItsID(t *testing.T) {
	req := metadata.CreateTopicRequest{Name: "t", NumPartitions: 3, ReplicationFactor: 1, TopicID: metadata.NewUUID(),
		Configs: map[string]string{"retention.ms": "1000"}, Assignments: map[int32][]int32{0: {1}}}
	kreq := kmsg.NewPtrCreateTopicsRequest()
	kreq.Version = 7
	kreq.Topics = append(kreq.Topics, encodeCreateTopic(req))
	wire := kreq.AppendTo(nil)
	back := kmsg.NewPtrCreateTopicsRequest()
	back.Version = 7
	if err := back.ReadFrom(wire); err != nil {
		t.Fatal(err)
	}
	got := decodeCreateTopic(back.Topics[0], false)
	if got.TopicID != req.TopicID || got.Name != "t" || got.NumPartitions != 3 || got.Configs["retention.ms"] != "1000" || len(got.Assignments[0]) != 1 {
		t.Fatalf("decoded %+v, want %+v", got, req)
	}
}
