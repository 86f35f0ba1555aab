package broker

import (
	"testing"

	"github.com/samsa-streaming/samsa/internal/metrics"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// errorCount is samsa_request_errors_total for api and error name.
func errorCount(t *testing.T, m *metrics.Metrics, api, name string) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "samsa_request_errors_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["api"] == api && labels["error"] == name {
				return s.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestCountErrorCodes(t *testing.T) {
	m := metrics.New()
	produce := kmsg.NewPtrProduceResponse()
	for _, code := range []int16{0, kerr.UnknownTopicOrPartition.Code, kerr.UnknownTopicOrPartition.Code} {
		topic := kmsg.NewProduceResponseTopic()
		p := kmsg.NewProduceResponseTopicPartition()
		p.ErrorCode = code
		topic.Partitions = append(topic.Partitions, p)
		produce.Topics = append(produce.Topics, topic)
	}
	countErrorCodes(m, 0, produce)
	if got := errorCount(t, m, "Produce", "UNKNOWN_TOPIC_OR_PARTITION"); got != 2 {
		t.Fatalf("produce: counted %v UNKNOWN_TOPIC_OR_PARTITION, want 2", got)
	}
	// Any other response is walked for its ErrorCode fields, nested ones
	// included.
	create := kmsg.NewPtrCreateTopicsResponse()
	ct := kmsg.NewCreateTopicsResponseTopic()
	ct.ErrorCode = kerr.TopicAlreadyExists.Code
	create.Topics = append(create.Topics, ct)
	countErrorCodes(m, 19, create)
	if got := errorCount(t, m, "CreateTopics", "TOPIC_ALREADY_EXISTS"); got != 1 {
		t.Fatalf("create topics: counted %v TOPIC_ALREADY_EXISTS, want 1", got)
	}
}
