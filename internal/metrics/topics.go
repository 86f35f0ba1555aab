package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// topicMetrics are the per-topic traffic counters (label topic). There is
// no partition label: a dashboard wants topics, and partitions multiply
// series by hundreds on a busy node.
type topicMetrics struct {
	producedBytes   *prometheus.CounterVec
	producedRecords *prometheus.CounterVec
	fetchedBytes    *prometheus.CounterVec
	fetchedRecords  *prometheus.CounterVec

	mu     sync.RWMutex
	topics map[string]*TopicTraffic
}

func newTopicMetrics() *topicMetrics {
	vec := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "samsa", Name: name, Help: help}, []string{"topic"})
	}
	return &topicMetrics{
		producedBytes: vec("topic_produced_bytes_total",
			"Record batch bytes appended to the topic's partitions as leader (produce requests, and the coordinators for the internal topics); duplicates of idempotent retries are not counted."),
		producedRecords: vec("topic_produced_records_total",
			"Records appended to the topic's partitions as leader (as samsa_topic_produced_bytes_total)."),
		fetchedBytes: vec("topic_fetched_bytes_total",
			"Record batch bytes sent to clients in Fetch responses."),
		fetchedRecords: vec("topic_fetched_records_total",
			"Offsets spanned by the record batches sent in Fetch responses: the records sent, plus any removed by compaction inside a batch."),
		topics: map[string]*TopicTraffic{},
	}
}

func (t *topicMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{t.producedBytes, t.producedRecords, t.fetchedBytes, t.fetchedRecords}
}

// TopicTraffic counts one topic's produced and fetched bytes and records.
// A nil *TopicTraffic counts nothing.
type TopicTraffic struct {
	producedBytes, producedRecords prometheus.Counter
	fetchedBytes, fetchedRecords   prometheus.Counter
}

// Topic returns the traffic counters of a topic, creating its series on
// first use. Callers on a hot path keep the result.
func (m *Metrics) Topic(topic string) *TopicTraffic {
	if m == nil {
		return nil
	}
	t := m.topics
	t.mu.RLock()
	tt := t.topics[topic]
	t.mu.RUnlock()
	if tt != nil {
		return tt
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if tt = t.topics[topic]; tt == nil {
		tt = &TopicTraffic{
			producedBytes:   t.producedBytes.WithLabelValues(topic),
			producedRecords: t.producedRecords.WithLabelValues(topic),
			fetchedBytes:    t.fetchedBytes.WithLabelValues(topic),
			fetchedRecords:  t.fetchedRecords.WithLabelValues(topic),
		}
		t.topics[topic] = tt
	}
	return tt
}

// ForgetTopic removes a deleted topic's series. Counters handed out
// before keep counting, unseen.
func (m *Metrics) ForgetTopic(topic string) {
	if m == nil {
		return
	}
	t := m.topics
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.topics[topic]; !ok {
		return
	}
	delete(t.topics, topic)
	for _, v := range []*prometheus.CounterVec{t.producedBytes, t.producedRecords, t.fetchedBytes, t.fetchedRecords} {
		v.DeleteLabelValues(topic)
	}
}

// Produced counts records appended to the topic.
func (t *TopicTraffic) Produced(bytes int, records int64) {
	if t == nil {
		return
	}
	t.producedBytes.Add(float64(bytes))
	t.producedRecords.Add(float64(records))
}

// Fetched counts record bytes sent to a consumer and the offsets they span.
func (t *TopicTraffic) Fetched(bytes, records int64) {
	if t == nil {
		return
	}
	t.fetchedBytes.Add(float64(bytes))
	t.fetchedRecords.Add(float64(records))
}
