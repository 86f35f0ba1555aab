package bench

import (
	"context"
	"errors"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ensureTopic returns topic's partition count, creating the topic with
// partitions partitions (<= 0: the broker's default) if it does not exist.
func ensureTopic(ctx context.Context, o cli.Options, topic string, partitions int32) (int, error) {
	cl, err := cli.Dial(ctx, o)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, o.EffectiveTimeout())
	defer cancel()
	for range 2 {
		topics, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return 0, cli.Explain(err, o)
		}
		td, ok := topics[topic]
		if ok && td.Err == nil {
			return len(td.Partitions), nil
		}
		if ok && !errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
			return 0, cli.TopicError(topic, td.Err, "", o)
		}
		if partitions <= 0 {
			partitions = -1
		}
		resp, err := adm.CreateTopic(ctx, partitions, -1, nil, topic)
		if errors.Is(err, kerr.TopicAlreadyExists) {
			continue // created meanwhile: look again
		}
		if err != nil {
			return 0, cli.TopicError(topic, err, resp.ErrMessage, o)
		}
		return int(resp.NumPartitions), nil
	}
	return 0, cli.Sentencef(nil, "topic %q: cannot create it or find it", topic)
}

// existingPartitions returns the partition ids of topic, which must exist.
func existingPartitions(ctx context.Context, adm *kadm.Client, o cli.Options, topic string) ([]int32, error) {
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, cli.Explain(err, o)
	}
	td, ok := topics[topic]
	if !ok {
		return nil, cli.Sentencef(nil, "topic %q does not exist", topic)
	}
	if td.Err != nil {
		return nil, cli.TopicError(topic, td.Err, "", o)
	}
	var ps []int32
	for _, p := range td.Partitions.Sorted() {
		ps = append(ps, p.Partition)
	}
	return ps, nil
}
