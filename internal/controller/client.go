package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	NodeID int32
	Store  *metadata.Store
	// Controller is this node's controller, nil on a node that is not a
	// voter. When this node is the active controller, operations run on
	// it directly.
	Controller *Controller
	// Voters are the controller quorum's nodes and their controller
	// listeners. Empty on a cluster of one.
	Voters []metadata.Voter
	Logger *slog.Logger
}

// Client is a node's way to the active controller: every metadata change
// any node makes (admin requests, topic auto-creation, producer-id blocks,
// the broker's own registration and heartbeats) goes through it. On the
// active controller it calls the local store; elsewhere it sends the
// matching Kafka request to the active controller's controller listener,
// finding it from the image's controller id and trying again on
// NOT_CONTROLLER, connection failures and elections until the context
// ends. After a forwarded change succeeds it waits until this node's image
// has caught up with the controller's, so a request that follows on this
// node sees the change.
//
// It implements the handlers' Controller interface (internal/broker).
type Client struct {
	cfg   ClientConfig
	log   *slog.Logger
	epoch atomic.Int64 // this broker's epoch once registered, else -1
	// failed is the voter the last request could not reach (-1 for none):
	// the image may name it for a while after it died, so the next
	// attempts probe the voters in turn instead.
	failed atomic.Int32
	probe  atomic.Uint32 // round-robin position over the voters

	mu      sync.Mutex
	clients map[int32]*kgo.Client // by voter id
	closed  bool
}

// NewClient returns a node's client of the controller.
func NewClient(cfg ClientConfig) *Client {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Client{cfg: cfg, log: cfg.Logger, clients: map[int32]*kgo.Client{}}
	c.epoch.Store(-1)
	c.failed.Store(-1)
	return c
}

// Close closes the connections to the controllers.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, cl := range c.clients {
		cl.Close()
	}
	c.clients = map[int32]*kgo.Client{}
}

// Image is this node's current metadata image.
func (c *Client) Image() *metadata.Image { return c.cfg.Store.Image() }

// Store is this node's metadata store.
func (c *Client) Store() *metadata.Store { return c.cfg.Store }

// local reports whether operations run on this node's store.
func (c *Client) local() bool {
	return c.cfg.Controller != nil && c.cfg.Store.Active()
}

// voterClient returns the connection to a voter.
func (c *Client) voterClient(id int32) (*kgo.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("controller client is closed")
	}
	if cl := c.clients[id]; cl != nil {
		return cl, nil
	}
	for _, v := range c.cfg.Voters {
		if v.ID != id {
			continue
		}
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(v.Addr),
			kgo.ClientID(fmt.Sprintf("samsa-node-%d", c.cfg.NodeID)),
			kgo.DialTimeout(2*time.Second),
			kgo.RequestTimeoutOverhead(5*time.Second),
		)
		if err != nil {
			return nil, err
		}
		c.clients[id] = cl
		return cl, nil
	}
	return nil, fmt.Errorf("node %d is not a voter", id)
}

// errRetry marks a failure after which the operation is tried again on
// whichever node is then the active controller.
var errRetry = errors.New("no active controller reached")

// do runs an operation on the active controller: local on this node when
// it is the active controller, else remote, sending req and reading its
// response with handle. NOT_CONTROLLER from either and connection
// failures are retried with backoff until ctx ends.
func (c *Client) do(ctx context.Context, local func() error, req kmsg.Request, handle func(kmsg.Response) error) error {
	backoff := 10 * time.Millisecond
	var last error
	for {
		err := c.try(ctx, local, req, handle)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errRetry) && !errors.Is(err, kerr.NotController) {
			return err
		}
		last = err
		select {
		case <-ctx.Done():
			// Kafka's brokers answer a forwarded request that found no
			// controller in time with REQUEST_TIMED_OUT.
			return metadata.NewError(kerr.RequestTimedOut, fmt.Sprintf(
				"no active controller answered in time: the controller quorum has no leader, or a majority of controller.quorum.voters is unreachable (last: %v)", last))
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

func (c *Client) try(ctx context.Context, local func() error, req kmsg.Request, handle func(kmsg.Response) error) error {
	if c.local() {
		return local()
	}
	if len(c.cfg.Voters) == 0 {
		return fmt.Errorf("%w: this node is not the active controller yet", errRetry)
	}
	target := c.cfg.Store.Image().ControllerID
	if target == c.cfg.NodeID {
		// This node was just elected and replays the log before it acts.
		return fmt.Errorf("%w: this node is becoming the active controller", errRetry)
	}
	if target < 0 || c.failed.Load() == target {
		// No leader known (a broker not yet following the log, an
		// election), or the known one did not answer: ask the voters in
		// turn; all but the active controller answer NOT_CONTROLLER.
		target = c.cfg.Voters[int(c.probe.Add(1))%len(c.cfg.Voters)].ID
	}
	cl, err := c.voterClient(target)
	if err != nil {
		return fmt.Errorf("%w: %v", errRetry, err)
	}
	seeds := cl.SeedBrokers()
	if len(seeds) == 0 {
		return fmt.Errorf("%w: no address for controller %d", errRetry, target)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	resp, err := seeds[0].Request(rctx, req)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.failed.Store(target)
		return fmt.Errorf("%w: controller %d: %v", errRetry, target, err)
	}
	c.failed.Store(-1)
	if err := handle(resp); err != nil {
		return err
	}
	if _, read := req.(*kmsg.DescribeQuorumRequest); read {
		return nil
	}
	return c.catchUp(ctx, target, cl)
}

// catchUp waits until this node has applied everything the controller had
// committed when its answer came: DescribeQuorum gives the controller's
// high watermark.
func (c *Client) catchUp(ctx context.Context, target int32, cl *kgo.Client) error {
	req := kmsg.NewPtrDescribeQuorumRequest()
	t := kmsg.NewDescribeQuorumRequestTopic()
	t.Topic = "__cluster_metadata"
	p := kmsg.NewDescribeQuorumRequestTopicPartition()
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	resp, err := cl.SeedBrokers()[0].Request(rctx, req)
	cancel()
	if err != nil {
		return nil // the change is made; this node will see it shortly
	}
	dq := resp.(*kmsg.DescribeQuorumResponse)
	if len(dq.Topics) != 1 || len(dq.Topics[0].Partitions) != 1 || dq.Topics[0].Partitions[0].ErrorCode != 0 {
		return nil
	}
	hw := dq.Topics[0].Partitions[0].HighWatermark
	return c.cfg.Store.WaitApplied(ctx, uint64(hw))
}

func respErr(code int16, msg *string) error {
	if code == 0 {
		return nil
	}
	ke := kerr.ErrorForCode(code)
	var kerrp *kerr.Error
	if !errors.As(ke, &kerrp) {
		kerrp = kerr.UnknownServerError
	}
	m := ""
	if msg != nil {
		m = *msg
	}
	return metadata.NewError(kerrp, m)
}

// CreateTopic creates a topic on the active controller.
func (c *Client) CreateTopic(ctx context.Context, req metadata.CreateTopicRequest) (*metadata.Topic, error) {
	var t *metadata.Topic
	if req.TopicID == (metadata.Uuid{}) {
		// Chosen here, so every try of this request names the same topic.
		req.TopicID = metadata.NewUUID()
	}
	kreq := kmsg.NewPtrCreateTopicsRequest()
	kreq.Version = 7
	kreq.ValidateOnly = req.ValidateOnly
	kreq.TimeoutMillis = timeoutMillis(ctx)
	kreq.Topics = append(kreq.Topics, encodeCreateTopic(req))
	err := c.do(ctx, func() (err error) {
		t, err = c.cfg.Store.CreateTopic(ctx, req)
		return err
	}, kreq, func(r kmsg.Response) error {
		resp := r.(*kmsg.CreateTopicsResponse)
		if len(resp.Topics) != 1 {
			return fmt.Errorf("%w: CreateTopics answered %d topics", errRetry, len(resp.Topics))
		}
		st := resp.Topics[0]
		if err := respErr(st.ErrorCode, st.ErrorMessage); err != nil {
			return err
		}
		// What the handlers need of a created topic; the local image has
		// the whole topic once catchUp returns.
		t = &metadata.Topic{Name: req.Name, ID: st.TopicID, Configs: req.Configs,
			Partitions: make([]metadata.Partition, st.NumPartitions)}
		for i := range t.Partitions {
			t.Partitions[i] = metadata.Partition{ID: int32(i), Leader: -1, Replicas: make([]int32, st.ReplicationFactor)}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !req.ValidateOnly {
		if full := c.cfg.Store.Image().TopicsByID[t.ID]; full != nil {
			return full, nil
		}
	}
	return t, nil
}

// DeleteTopic deletes a topic by id on the active controller.
func (c *Client) DeleteTopic(ctx context.Context, id metadata.Uuid) error {
	kreq := kmsg.NewPtrDeleteTopicsRequest()
	kreq.Version = 6
	kreq.TimeoutMillis = timeoutMillis(ctx)
	t := kmsg.NewDeleteTopicsRequestTopic()
	t.TopicID = id
	kreq.Topics = append(kreq.Topics, t)
	return c.do(ctx, func() error { return c.cfg.Store.DeleteTopic(ctx, id) }, kreq, deleteTopicsResult)
}

// DeleteTopicByName deletes a topic by name on the active controller.
func (c *Client) DeleteTopicByName(ctx context.Context, name string) error {
	kreq := kmsg.NewPtrDeleteTopicsRequest()
	kreq.Version = 6
	kreq.TimeoutMillis = timeoutMillis(ctx)
	t := kmsg.NewDeleteTopicsRequestTopic()
	t.Topic = &name
	kreq.Topics = append(kreq.Topics, t)
	return c.do(ctx, func() error { return c.cfg.Store.DeleteTopicByName(ctx, name) }, kreq, deleteTopicsResult)
}

func deleteTopicsResult(r kmsg.Response) error {
	resp := r.(*kmsg.DeleteTopicsResponse)
	if len(resp.Topics) != 1 {
		return fmt.Errorf("%w: DeleteTopics answered %d topics", errRetry, len(resp.Topics))
	}
	return respErr(resp.Topics[0].ErrorCode, resp.Topics[0].ErrorMessage)
}

// CreatePartitions adds partitions on the active controller.
func (c *Client) CreatePartitions(ctx context.Context, topic string, newTotal int32, assignments [][]int32, validateOnly bool) error {
	kreq := kmsg.NewPtrCreatePartitionsRequest()
	kreq.Version = 3
	kreq.TimeoutMillis = timeoutMillis(ctx)
	kreq.ValidateOnly = validateOnly
	t := kmsg.NewCreatePartitionsRequestTopic()
	t.Topic, t.Count = topic, newTotal
	if assignments != nil {
		t.Assignment = []kmsg.CreatePartitionsRequestTopicAssignment{}
		for _, a := range assignments {
			as := kmsg.NewCreatePartitionsRequestTopicAssignment()
			as.Replicas = a
			t.Assignment = append(t.Assignment, as)
		}
	}
	kreq.Topics = append(kreq.Topics, t)
	return c.do(ctx, func() error {
		return c.cfg.Store.CreatePartitions(ctx, topic, newTotal, assignments, validateOnly)
	}, kreq, func(r kmsg.Response) error {
		resp := r.(*kmsg.CreatePartitionsResponse)
		if len(resp.Topics) != 1 {
			return fmt.Errorf("%w: CreatePartitions answered %d topics", errRetry, len(resp.Topics))
		}
		return respErr(resp.Topics[0].ErrorCode, resp.Topics[0].ErrorMessage)
	})
}

// SetTopicConfigs changes a topic's config overrides on the active
// controller (metadata.Store.SetTopicConfigs).
func (c *Client) SetTopicConfigs(ctx context.Context, topic string, configs map[string]*string, replaceAll, validateOnly bool) error {
	return c.setConfigs(ctx, kmsg.ConfigResourceTypeTopic, topic, configs, replaceAll, validateOnly,
		func() error { return c.cfg.Store.SetTopicConfigs(ctx, topic, configs, replaceAll, validateOnly) })
}

// SetBrokerConfigsOf changes dynamic broker configs on the active
// controller (metadata.Store.SetBrokerConfigsOf).
func (c *Client) SetBrokerConfigsOf(ctx context.Context, resource string, configs map[string]*string, replaceAll, validateOnly bool) error {
	return c.setConfigs(ctx, kmsg.ConfigResourceTypeBroker, resource, configs, replaceAll, validateOnly,
		func() error { return c.cfg.Store.SetBrokerConfigsOf(ctx, resource, configs, replaceAll, validateOnly) })
}

func (c *Client) setConfigs(ctx context.Context, typ kmsg.ConfigResourceType, name string, configs map[string]*string, replaceAll, validateOnly bool, local func() error) error {
	if replaceAll {
		kreq := kmsg.NewPtrAlterConfigsRequest()
		kreq.Version = 2
		kreq.ValidateOnly = validateOnly
		res := kmsg.NewAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = typ, name
		for k, v := range configs {
			if v == nil {
				continue // a full replacement leaves absent keys unset
			}
			cfg := kmsg.NewAlterConfigsRequestResourceConfig()
			cfg.Name, cfg.Value = k, v
			res.Configs = append(res.Configs, cfg)
		}
		kreq.Resources = append(kreq.Resources, res)
		return c.do(ctx, local, kreq, func(r kmsg.Response) error {
			resp := r.(*kmsg.AlterConfigsResponse)
			if len(resp.Resources) != 1 {
				return fmt.Errorf("%w: AlterConfigs answered %d resources", errRetry, len(resp.Resources))
			}
			return respErr(resp.Resources[0].ErrorCode, resp.Resources[0].ErrorMessage)
		})
	}
	kreq := kmsg.NewPtrIncrementalAlterConfigsRequest()
	kreq.Version = 1
	kreq.ValidateOnly = validateOnly
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = typ, name
	for k, v := range configs {
		cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		cfg.Name, cfg.Value, cfg.Op = k, v, kmsg.IncrementalAlterConfigOpSet
		if v == nil {
			cfg.Op = kmsg.IncrementalAlterConfigOpDelete
		}
		res.Configs = append(res.Configs, cfg)
	}
	kreq.Resources = append(kreq.Resources, res)
	return c.do(ctx, local, kreq, func(r kmsg.Response) error {
		resp := r.(*kmsg.IncrementalAlterConfigsResponse)
		if len(resp.Resources) != 1 {
			return fmt.Errorf("%w: IncrementalAlterConfigs answered %d resources", errRetry, len(resp.Resources))
		}
		return respErr(resp.Resources[0].ErrorCode, resp.Resources[0].ErrorMessage)
	})
}

// AllocateProducerIDs reserves a block of producer ids (KIP-730) and
// returns its first id. A remote controller hands out
// ProducerIDBlockSize ids whatever count is.
func (c *Client) AllocateProducerIDs(ctx context.Context, count int64) (int64, error) {
	var first int64
	kreq := kmsg.NewPtrAllocateProducerIDsRequest()
	kreq.BrokerID, kreq.BrokerEpoch = c.cfg.NodeID, c.epoch.Load()
	err := c.do(ctx, func() (err error) {
		first, err = c.cfg.Store.AllocateProducerIDs(ctx, count)
		return err
	}, kreq, func(r kmsg.Response) error {
		resp := r.(*kmsg.AllocateProducerIDsResponse)
		if err := respErr(resp.ErrorCode, nil); err != nil {
			return err
		}
		if int64(resp.ProducerIDLen) < count {
			return metadata.NewError(kerr.UnknownServerError, fmt.Sprintf("the controller handed out %d producer ids, not %d", resp.ProducerIDLen, count))
		}
		first = resp.ProducerIDStart
		return nil
	})
	return first, err
}

// SetFeatureLevel finalizes a feature level on the active controller.
func (c *Client) SetFeatureLevel(ctx context.Context, name string, level int16) error {
	if c.cfg.Store.Image().Features[name] == level {
		return nil
	}
	kreq := kmsg.NewPtrUpdateFeaturesRequest()
	kreq.Version = 1
	kreq.TimeoutMillis = timeoutMillis(ctx)
	u := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
	u.Feature, u.MaxVersionLevel, u.UpgradeType = name, level, 1
	kreq.FeatureUpdates = append(kreq.FeatureUpdates, u)
	return c.do(ctx, func() error { return c.cfg.Store.SetFeatureLevel(ctx, name, level) }, kreq, func(r kmsg.Response) error {
		resp := r.(*kmsg.UpdateFeaturesResponse)
		if err := respErr(resp.ErrorCode, resp.ErrorMessage); err != nil {
			return err
		}
		for _, res := range resp.Results {
			if err := respErr(res.ErrorCode, res.ErrorMessage); err != nil {
				return err
			}
		}
		return nil
	})
}

// DescribeQuorum asks the active controller to describe the metadata
// quorum (a broker forwards DescribeQuorum, as Kafka's do).
func (c *Client) DescribeQuorum(ctx context.Context, req *kmsg.DescribeQuorumRequest) (*kmsg.DescribeQuorumResponse, error) {
	var out *kmsg.DescribeQuorumResponse
	handle := func(r kmsg.Response) error {
		resp := r.(*kmsg.DescribeQuorumResponse)
		if resp.ErrorCode == kerr.NotController.Code || resp.ErrorCode == kerr.NotLeaderForPartition.Code {
			return kerr.NotController
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == kerr.NotLeaderForPartition.Code {
					return kerr.NotController
				}
			}
		}
		out = resp
		return nil
	}
	err := c.do(ctx, func() error { return handle(NewServer(c.cfg.Store, c.cfg.Controller).DescribeQuorum(req)) }, req, handle)
	return out, err
}

// AlterPartition sends a partition leader's AlterPartition (KIP-497) to
// the active controller and returns its answer, whose per-partition error
// codes are the caller's to act on (see metadata.Store.AlterPartition).
// It is sent as version 3, whatever req.Version says: NewEpochISR when
// given, else NewISR's members (version 2) as NewEpochISR entries with
// broker epoch -1, which the controller does not check. With BrokerEpoch -1 (the request's default) the client names
// this node and the broker epoch it registered with. A whole-request
// error other than NOT_CONTROLLER (which is retried) comes back as the
// error, STALE_BROKER_EPOCH for one.
func (c *Client) AlterPartition(ctx context.Context, req *kmsg.AlterPartitionRequest) (*kmsg.AlterPartitionResponse, error) {
	kreq := kmsg.NewPtrAlterPartitionRequest()
	kreq.Version = 3
	kreq.BrokerID, kreq.BrokerEpoch = req.BrokerID, req.BrokerEpoch
	if req.BrokerEpoch == -1 {
		kreq.BrokerID, kreq.BrokerEpoch = c.cfg.NodeID, c.epoch.Load()
	}
	for _, rt := range req.Topics {
		t := rt
		t.Partitions = make([]kmsg.AlterPartitionRequestTopicPartition, len(rt.Partitions))
		for i, rp := range rt.Partitions {
			if len(rp.NewEpochISR) == 0 {
				for _, id := range rp.NewISR {
					m := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
					m.BrokerID = id
					rp.NewEpochISR = append(rp.NewEpochISR, m)
				}
			}
			rp.NewISR = nil
			t.Partitions[i] = rp
		}
		kreq.Topics = append(kreq.Topics, t)
	}
	var out *kmsg.AlterPartitionResponse
	handle := func(r kmsg.Response) error {
		resp := r.(*kmsg.AlterPartitionResponse)
		if err := respErr(resp.ErrorCode, nil); err != nil {
			return err
		}
		if len(resp.Topics) != len(kreq.Topics) {
			return fmt.Errorf("%w: AlterPartition answered %d topics of %d", errRetry, len(resp.Topics), len(kreq.Topics))
		}
		out = resp
		return nil
	}
	err := c.do(ctx, func() error { return handle(NewServer(c.cfg.Store, c.cfg.Controller).alterPartition(ctx, kreq)) }, kreq, handle)
	return out, err
}

// Register registers this broker incarnation and returns its epoch.
func (c *Client) Register(ctx context.Context, req *kmsg.BrokerRegistrationRequest) (int64, error) {
	var epoch int64
	handle := func(r kmsg.Response) error {
		resp := r.(*kmsg.BrokerRegistrationResponse)
		if err := respErr(resp.ErrorCode, nil); err != nil {
			return err
		}
		epoch = resp.BrokerEpoch
		return nil
	}
	err := c.do(ctx, func() error { return handle(c.cfg.Controller.Register(ctx, req)) }, req, handle)
	if err == nil {
		c.epoch.Store(epoch)
	}
	return epoch, err
}

// Heartbeat sends one heartbeat and returns the controller's answer.
func (c *Client) Heartbeat(ctx context.Context, req *kmsg.BrokerHeartbeatRequest) (*kmsg.BrokerHeartbeatResponse, error) {
	var out *kmsg.BrokerHeartbeatResponse
	handle := func(r kmsg.Response) error {
		resp := r.(*kmsg.BrokerHeartbeatResponse)
		if err := respErr(resp.ErrorCode, nil); err != nil {
			return err
		}
		out = resp
		return nil
	}
	// A heartbeat is not retried past its own deadline; the next one
	// follows anyway.
	err := c.do(ctx, func() error { return handle(c.cfg.Controller.Heartbeat(ctx, req)) }, req, handle)
	return out, err
}

func timeoutMillis(ctx context.Context) int32 {
	if d, ok := ctx.Deadline(); ok {
		return int32(max(time.Until(d).Milliseconds(), 1))
	}
	return 30000
}

// topicIDTag is the tagged field of a CreateTopics topic (v5+) in which a
// forwarding Samsa node sends the topic id it chose
// (metadata.CreateTopicRequest.TopicID). Kafka has no such field; tags are
// how its protocol carries optional extensions, other brokers skip unknown
// ones, and this one only travels between Samsa nodes. The number is far
// above the tags Kafka uses.
const topicIDTag = 0x5a5a

// encodeCreateTopic is the CreateTopics entry of a forwarded CreateTopic.
func encodeCreateTopic(req metadata.CreateTopicRequest) kmsg.CreateTopicsRequestTopic {
	t := kmsg.NewCreateTopicsRequestTopic()
	if req.TopicID != (metadata.Uuid{}) {
		t.UnknownTags.Set(topicIDTag, req.TopicID[:])
	}
	t.Topic, t.NumPartitions, t.ReplicationFactor = req.Name, req.NumPartitions, req.ReplicationFactor
	for p, replicas := range req.Assignments {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = p, replicas
		t.ReplicaAssignment = append(t.ReplicaAssignment, a)
	}
	for k, v := range req.Configs {
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = k, &v
		t.Configs = append(t.Configs, cfg)
	}
	return t
}

// decodeCreateTopic is the inverse of encodeCreateTopic.
func decodeCreateTopic(t kmsg.CreateTopicsRequestTopic, validateOnly bool) metadata.CreateTopicRequest {
	req := metadata.CreateTopicRequest{Name: t.Topic, NumPartitions: t.NumPartitions, ReplicationFactor: t.ReplicationFactor, ValidateOnly: validateOnly}
	t.UnknownTags.Each(func(key uint32, val []byte) {
		if key == topicIDTag && len(val) == len(req.TopicID) {
			copy(req.TopicID[:], val)
		}
	})
	if len(t.ReplicaAssignment) > 0 {
		req.Assignments = make(map[int32][]int32, len(t.ReplicaAssignment))
		for _, a := range t.ReplicaAssignment {
			req.Assignments[a.Partition] = a.Replicas
		}
	}
	req.Configs = make(map[string]string, len(t.Configs))
	for _, c := range t.Configs {
		if c.Value != nil {
			req.Configs[c.Name] = *c.Value
		}
	}
	return req
}
