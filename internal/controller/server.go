package controller

import (
	"context"
	"maps"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// ProducerIDBlockSize is how many producer ids AllocateProducerIds hands
// out at once (Kafka's block size).
const ProducerIDBlockSize = 1000

// Server answers the controller APIs a controller listener serves: the
// broker lifecycle (BrokerRegistration, BrokerHeartbeat), the metadata
// changes brokers forward (CreateTopics, DeleteTopics, CreatePartitions,
// AlterConfigs, IncrementalAlterConfigs, AllocateProducerIds,
// UpdateFeatures, ElectLeaders), partition leaders' AlterPartition and
// DescribeQuorum. A node that is not the active controller answers
// NOT_CONTROLLER, and the sender tries another.
type Server struct {
	store *metadata.Store
	ctrl  *Controller
}

// NewServer returns the controller APIs over a node's store and
// controller.
func NewServer(store *metadata.Store, ctrl *Controller) *Server {
	return &Server{store: store, ctrl: ctrl}
}

// APIs lists the request keys Serve answers, with the highest version of
// each it serves.
var APIs = map[int16]int16{
	18: 4, // ApiVersions
	19: 7, // CreateTopics
	20: 6, // DeleteTopics
	33: 2, // AlterConfigs
	37: 3, // CreatePartitions
	43: 2, // ElectLeaders
	44: 1, // IncrementalAlterConfigs
	55: 2, // DescribeQuorum
	56: 3, // AlterPartition
	57: 1, // UpdateFeatures
	62: 4, // BrokerRegistration
	63: 1, // BrokerHeartbeat
	67: 0, // AllocateProducerIds
}

// apiMinVersions holds the lowest version of the APIs that do not serve
// from 0: AlterPartition before v2 names topics instead of ids.
var apiMinVersions = map[int16]int16{56: 2}

// Serve answers one request. Requests of other APIs get nil; the caller
// closes the connection, as for any request a listener does not serve.
func (s *Server) Serve(ctx context.Context, req kmsg.Request) kmsg.Response {
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		return s.apiVersions(r)
	case *kmsg.BrokerRegistrationRequest:
		return s.ctrl.Register(ctx, r)
	case *kmsg.BrokerHeartbeatRequest:
		return s.ctrl.Heartbeat(ctx, r)
	case *kmsg.CreateTopicsRequest:
		return s.createTopics(ctx, r)
	case *kmsg.DeleteTopicsRequest:
		return s.deleteTopics(ctx, r)
	case *kmsg.CreatePartitionsRequest:
		return s.createPartitions(ctx, r)
	case *kmsg.AlterConfigsRequest:
		return s.alterConfigs(ctx, r)
	case *kmsg.IncrementalAlterConfigsRequest:
		return s.incrementalAlterConfigs(ctx, r)
	case *kmsg.AllocateProducerIDsRequest:
		return s.allocateProducerIDs(ctx, r)
	case *kmsg.UpdateFeaturesRequest:
		return s.updateFeatures(ctx, r)
	case *kmsg.AlterPartitionRequest:
		return s.alterPartition(ctx, r)
	case *kmsg.ElectLeadersRequest:
		return s.electLeaders(ctx, r)
	case *kmsg.DescribeQuorumRequest:
		return s.DescribeQuorum(r)
	}
	return nil
}

func (s *Server) apiVersions(r *kmsg.ApiVersionsRequest) kmsg.Response {
	resp := APIVersions()
	resp.Version = r.Version
	return resp
}

// APIVersions is the ApiVersions answer of a controller listener: the
// APIs of APIs, in key order.
func APIVersions() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	keys := slices.Sorted(maps.Keys(APIs))
	for _, key := range keys {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = key, apiMinVersions[key], APIs[key]
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}

func codeMsg(err error) (int16, *string) {
	code, msg := metadata.ErrorCode(err)
	if msg == "" {
		return code, nil
	}
	return code, &msg
}

func (s *Server) createTopics(ctx context.Context, r *kmsg.CreateTopicsRequest) kmsg.Response {
	resp := kmsg.NewPtrCreateTopicsResponse()
	resp.Version = r.Version
	for _, rt := range r.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		t, err := s.store.CreateTopic(ctx, decodeCreateTopic(rt, r.ValidateOnly))
		st.ErrorCode, st.ErrorMessage = codeMsg(err)
		if t != nil {
			st.TopicID = t.ID
			st.NumPartitions = int32(len(t.Partitions))
			if len(t.Partitions) > 0 {
				st.ReplicationFactor = int16(len(t.Partitions[0].Replicas))
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (s *Server) deleteTopics(ctx context.Context, r *kmsg.DeleteTopicsRequest) kmsg.Response {
	resp := kmsg.NewPtrDeleteTopicsResponse()
	resp.Version = r.Version
	for _, rt := range r.Topics {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var err error
		if rt.Topic != nil && *rt.Topic != "" {
			err = s.store.DeleteTopicByName(ctx, *rt.Topic)
		} else {
			err = s.store.DeleteTopic(ctx, rt.TopicID)
		}
		st.ErrorCode, st.ErrorMessage = codeMsg(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (s *Server) createPartitions(ctx context.Context, r *kmsg.CreatePartitionsRequest) kmsg.Response {
	resp := kmsg.NewPtrCreatePartitionsResponse()
	resp.Version = r.Version
	for _, rt := range r.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var assignments [][]int32
		if rt.Assignment != nil {
			assignments = make([][]int32, 0, len(rt.Assignment))
			for _, a := range rt.Assignment {
				assignments = append(assignments, a.Replicas)
			}
		}
		err := s.store.CreatePartitions(ctx, rt.Topic, rt.Count, assignments, r.ValidateOnly)
		st.ErrorCode, st.ErrorMessage = codeMsg(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// setConfigs applies one resource's change to a topic or the brokers.
func (s *Server) setConfigs(ctx context.Context, typ kmsg.ConfigResourceType, name string, configs map[string]*string, replaceAll, validateOnly bool) error {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		return s.store.SetTopicConfigs(ctx, name, configs, replaceAll, validateOnly)
	case kmsg.ConfigResourceTypeBroker:
		return s.store.SetBrokerConfigsOf(ctx, name, configs, replaceAll, validateOnly)
	}
	return metadata.NewError(kerr.InvalidRequest, "unsupported resource type "+strconv.Itoa(int(typ)))
}

func (s *Server) alterConfigs(ctx context.Context, r *kmsg.AlterConfigsRequest) kmsg.Response {
	resp := kmsg.NewPtrAlterConfigsResponse()
	resp.Version = r.Version
	for _, res := range r.Resources {
		configs := make(map[string]*string, len(res.Configs))
		for _, c := range res.Configs {
			configs[c.Name] = c.Value
		}
		st := kmsg.NewAlterConfigsResponseResource()
		st.ResourceType, st.ResourceName = res.ResourceType, res.ResourceName
		st.ErrorCode, st.ErrorMessage = codeMsg(s.setConfigs(ctx, res.ResourceType, res.ResourceName, configs, true, r.ValidateOnly))
		resp.Resources = append(resp.Resources, st)
	}
	return resp
}

func (s *Server) incrementalAlterConfigs(ctx context.Context, r *kmsg.IncrementalAlterConfigsRequest) kmsg.Response {
	resp := kmsg.NewPtrIncrementalAlterConfigsResponse()
	resp.Version = r.Version
	for _, res := range r.Resources {
		st := kmsg.NewIncrementalAlterConfigsResponseResource()
		st.ResourceType, st.ResourceName = res.ResourceType, res.ResourceName
		configs := make(map[string]*string, len(res.Configs))
		var err error
		for _, c := range res.Configs {
			switch c.Op {
			case kmsg.IncrementalAlterConfigOpSet:
				configs[c.Name] = c.Value
			case kmsg.IncrementalAlterConfigOpDelete:
				configs[c.Name] = nil
			default:
				err = metadata.NewError(kerr.InvalidRequest, "forwarded config changes are SET or DELETE")
			}
		}
		if err == nil {
			err = s.setConfigs(ctx, res.ResourceType, res.ResourceName, configs, false, r.ValidateOnly)
		}
		st.ErrorCode, st.ErrorMessage = codeMsg(err)
		resp.Resources = append(resp.Resources, st)
	}
	return resp
}

func (s *Server) allocateProducerIDs(ctx context.Context, r *kmsg.AllocateProducerIDsRequest) kmsg.Response {
	resp := kmsg.NewPtrAllocateProducerIDsResponse()
	resp.Version = r.Version
	if br, ok := s.store.Image().Brokers[r.BrokerID]; !ok || br.Epoch != r.BrokerEpoch {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return resp
	}
	first, err := s.store.AllocateProducerIDs(ctx, ProducerIDBlockSize)
	if err != nil {
		resp.ErrorCode, _ = codeMsg(err)
		return resp
	}
	resp.ProducerIDStart, resp.ProducerIDLen = first, ProducerIDBlockSize
	return resp
}

func (s *Server) updateFeatures(ctx context.Context, r *kmsg.UpdateFeaturesRequest) kmsg.Response {
	resp := kmsg.NewPtrUpdateFeaturesResponse()
	resp.Version = r.Version
	for _, f := range r.FeatureUpdates {
		st := kmsg.NewUpdateFeaturesResponseResult()
		st.Feature = f.Feature
		st.ErrorCode, st.ErrorMessage = codeMsg(s.store.SetFeatureLevel(ctx, f.Feature, f.MaxVersionLevel))
		resp.Results = append(resp.Results, st)
	}
	return resp
}

// alterPartition answers a partition leader's AlterPartition (KIP-497;
// metadata.Store.AlterPartition checks it). Versions 2 and 3 name topics
// by id; version 3 gives each new ISR member's broker epoch (KIP-903),
// version 2 only its id, which is then not checked against an epoch.
// Older versions are answered UNSUPPORTED_VERSION.
func (s *Server) alterPartition(ctx context.Context, r *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	resp := kmsg.NewPtrAlterPartitionResponse()
	resp.Version = r.Version
	if r.Version < apiMinVersions[r.Key()] {
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return resp
	}
	req := metadata.AlterPartitionRequest{BrokerID: r.BrokerID, BrokerEpoch: r.BrokerEpoch}
	for _, rt := range r.Topics {
		t := metadata.AlterPartitionTopic{TopicID: rt.TopicID}
		for _, rp := range rt.Partitions {
			item := metadata.AlterPartitionItem{Partition: rp.Partition, LeaderEpoch: rp.LeaderEpoch, PartitionEpoch: rp.PartitionEpoch}
			if r.Version >= 3 {
				for _, m := range rp.NewEpochISR {
					item.NewISR = append(item.NewISR, metadata.ISRMember{BrokerID: m.BrokerID, BrokerEpoch: m.BrokerEpoch})
				}
			} else {
				for _, id := range rp.NewISR {
					item.NewISR = append(item.NewISR, metadata.ISRMember{BrokerID: id, BrokerEpoch: -1})
				}
			}
			t.Partitions = append(t.Partitions, item)
		}
		req.Topics = append(req.Topics, t)
	}
	results, err := s.store.AlterPartition(ctx, req)
	if err != nil {
		resp.ErrorCode, _ = codeMsg(err)
		return resp
	}
	for _, rt := range req.Topics {
		st := kmsg.NewAlterPartitionResponseTopic()
		st.TopidID = rt.TopicID
		for range rt.Partitions {
			res := results[0]
			results = results[1:]
			sp := kmsg.NewAlterPartitionResponseTopicPartition()
			sp.Partition = res.Partition.ID
			if res.Err != nil {
				sp.ErrorCode = res.Err.Code
			} else {
				p := res.Partition
				sp.LeaderID, sp.LeaderEpoch, sp.PartitionEpoch, sp.ISR = p.Leader, p.LeaderEpoch, p.PartitionEpoch, p.ISR
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// DescribeQuorum answers KIP-595's DescribeQuorum for the metadata log
// from this node's view: the leader and its epoch (the Raft term), the
// high watermark (the commit index), the voters and the observers
// (non-voters and broker-only nodes). Each replica's log end offset is the
// last metadata offset it reported in a heartbeat, which the active
// controller knows; the leader's is its own last index.
func (s *Server) DescribeQuorum(r *kmsg.DescribeQuorumRequest) *kmsg.DescribeQuorumResponse {
	resp := kmsg.NewPtrDescribeQuorumResponse()
	resp.Version = r.Version
	q := s.store.Quorum()
	var reported map[int32]session
	if s.ctrl != nil {
		reported = s.ctrl.reportedOffsets()
	}
	for _, rt := range r.Topics {
		t := kmsg.NewDescribeQuorumResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewDescribeQuorumResponseTopicPartition()
			p.Partition = rp.Partition
			if rt.Topic != "__cluster_metadata" || rp.Partition != 0 {
				p.ErrorCode = kerr.UnknownTopicOrPartition.Code
				t.Partitions = append(t.Partitions, p)
				continue
			}
			if !q.Active {
				p.ErrorCode = kerr.NotLeaderForPartition.Code
				t.Partitions = append(t.Partitions, p)
				continue
			}
			p.LeaderID, p.LeaderEpoch, p.HighWatermark = q.LeaderID, int32(q.Term), int64(q.CommitIndex)
			replica := func(id int32) kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
				rs := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
				rs.ReplicaID = id
				rs.LogEndOffset = -1
				if id == q.LeaderID {
					rs.LogEndOffset = int64(q.LastIndex)
					rs.LastFetchTimestamp, rs.LastCaughtUpTimestamp = q.Now, q.Now
				} else if s, ok := reported[id]; ok && s.metadataOffset >= 0 {
					rs.LogEndOffset = s.metadataOffset
					rs.LastFetchTimestamp = s.lastHeartbeat.UnixMilli()
					if uint64(s.metadataOffset) >= q.CommitIndex {
						rs.LastCaughtUpTimestamp = rs.LastFetchTimestamp
					}
				}
				return rs
			}
			for _, v := range q.Voters {
				p.CurrentVoters = append(p.CurrentVoters, replica(v))
			}
			for _, o := range q.Observers {
				p.Observers = append(p.Observers, replica(o))
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}
