package broker

// Metadata, versions 0 to 13.
//
// Lists the registered brokers, the cluster id (v2+) and controller (v1+),
// and the requested topics with their partitions' leaders, leader epochs
// (v7+), replicas and ISR, and topic ids (v10+). A null topic list (v1+) or
// an empty one (v0) asks for every topic. Topics may be named by id (v10+);
// an unknown id gets UNKNOWN_TOPIC_ID.
//
// An unknown topic is created when auto.create.topics.enable is on and the
// request allows it (always for v0-v3, AllowAutoTopicCreation for v4+), with
// num.partitions and default.replication.factor; the response then already
// describes the new topic, since creation returns once the metadata record
// is applied and this node's partitions exist. An invalid name gets
// INVALID_TOPIC_EXCEPTION; an unknown topic that is not created,
// UNKNOWN_TOPIC_OR_PARTITION.

import (
	"context"
	"errors"
	"time"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(3, 0, 13, handleMetadata) }

func handleMetadata(ctx context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	im := b.meta.Image()

	allTopics := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	autoCreate := b.cfg.AutoCreateTopicsEnable && (req.Version < 4 || req.AllowAutoTopicCreation)

	var topics []kmsg.MetadataResponseTopic
	if allTopics {
		for _, name := range im.TopicNames() {
			topics = append(topics, describeTopic(im.Topics[name], b))
		}
	} else {
		var created bool
		for _, rt := range req.Topics {
			switch {
			case rt.Topic == nil && rt.TopicID != ([16]byte{}):
				t := im.TopicByID(rt.TopicID)
				if t == nil {
					mt := kmsg.NewMetadataResponseTopic()
					mt.ErrorCode = kerr.UnknownTopicID.Code
					mt.TopicID = rt.TopicID
					topics = append(topics, mt)
					continue
				}
				topics = append(topics, describeTopic(t, b))
			case rt.Topic == nil:
				mt := kmsg.NewMetadataResponseTopic()
				mt.ErrorCode = kerr.InvalidRequest.Code
				topics = append(topics, mt)
			default:
				name := *rt.Topic
				if t := im.Topic(name); t != nil {
					topics = append(topics, describeTopic(t, b))
					continue
				}
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic = rt.Topic
				if !autoCreate {
					mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
					topics = append(topics, mt)
					continue
				}
				t, code := b.autoCreateTopic(ctx, name)
				if code != nil {
					mt.ErrorCode = code.Code
					topics = append(topics, mt)
					continue
				}
				created = true
				topics = append(topics, describeTopic(t, b))
			}
		}
		if created {
			im = b.meta.Image()
		}
	}
	resp.Topics = topics

	// Fenced brokers are not listed, as in Kafka: clients must not send
	// them anything until they are back.
	for _, id := range im.BrokerIDs() {
		br := im.Brokers[id]
		if br.Fenced {
			continue
		}
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port = br.ID, br.Host, br.Port
		if br.Rack != "" {
			rack := br.Rack
			mb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, mb)
	}
	clusterID := im.ClusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = b.controllerForClients(im)
	return resp, nil
}

// autoCreateTopic creates a topic with the node's defaults and waits until
// this node's partitions of it exist. It returns the Kafka error code for
// the topic on failure.
func (b *Broker) autoCreateTopic(ctx context.Context, name string) (*metadata.Topic, *kerr.Error) {
	if err := metadata.ValidateTopicName(name); err != nil {
		return nil, kerr.InvalidTopicException
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t, err := b.meta.CreateTopic(ctx, metadata.CreateTopicRequest{
		Name:              name,
		NumPartitions:     b.cfg.NumPartitions,
		ReplicationFactor: b.cfg.DefaultReplicationFactor,
	})
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke) && ke == kerr.TopicAlreadyExists:
		// Raced with another creator: describe what is there.
		if t = b.meta.Image().Topic(name); t == nil {
			return nil, kerr.LeaderNotAvailable
		}
	case errors.As(err, &ke):
		return nil, ke
	case err != nil:
		b.logger.Warn("auto topic creation failed", "topic", name, "err", err)
		return nil, kerr.LeaderNotAvailable
	}
	if err := b.replicas.AwaitImage(ctx, b.meta.Image().Epoch); err != nil {
		return nil, kerr.LeaderNotAvailable
	}
	b.logger.Info("topic auto-created", "topic", name, "partitions", len(t.Partitions))
	return t, nil
}

func describeTopic(t *metadata.Topic, b *Broker) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = metadata.IsInternalTopic(t.Name)
	im := b.meta.Image()
	for _, p := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.ID
		mp.Leader = p.Leader
		mp.LeaderEpoch = p.LeaderEpoch
		mp.Replicas = p.Replicas
		mp.ISR = p.ISR
		mp.OfflineReplicas = []int32{}
		for _, id := range p.Replicas {
			if br, ok := im.Brokers[id]; !ok || br.Fenced {
				mp.OfflineReplicas = append(mp.OfflineReplicas, id)
			}
		}
		if p.Leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
