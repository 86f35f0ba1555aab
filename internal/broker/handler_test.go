package broker

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/metrics"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/replica"
	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// The test environments and helpers shared by the tests of several APIs
// (each API's tests are in its NN_name_test.go): a handlers' environment
// without a network (newAdminEnv), in-process nodes serving on loopback
// (startNode, startBrokerIn), raw requests, requests dispatched to the
// handlers without a network (serveReq) with the group, offset and
// transaction requests built for them, produce helpers, transactional
// clients and offset fetches. A helper used by one API's tests stays with
// them.

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

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

// createRemoteTopic creates a one-partition topic whose only replica is on
// broker 2, registered for the purpose: known here, not hosted here.
func createRemoteTopic(t *testing.T, env *Broker, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := env.replicas.Metadata().RegisterBroker(ctx, metadata.Broker{ID: 2, Host: "127.0.0.2", Port: 9092}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.meta.CreateTopic(ctx, metadata.CreateTopicRequest{Name: name, NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {2}}}); err != nil {
		t.Fatal(err)
	}
}

// withPartitions waits until the node hosts every partition of the named
// topics (created in the metadata first) and returns them.
func withPartitions(t *testing.T, env *Broker, topics ...string) map[topicPartition]*partition.Partition {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := env.replicas.AwaitImage(ctx, env.meta.Image().Epoch); err != nil {
		t.Fatal(err)
	}
	parts := map[topicPartition]*partition.Partition{}
	im := env.meta.Image()
	for _, name := range topics {
		for _, mp := range im.Topic(name).Partitions {
			p, ok := env.replicas.Partition(name, mp.ID)
			if !ok {
				t.Fatalf("%s-%d is not hosted", name, mp.ID)
			}
			parts[topicPartition{Topic: name, Partition: mp.ID}] = p
		}
	}
	return parts
}

func produce(t *testing.T, p *partition.Partition, pid int64, seq int32, n int) {
	t.Helper()
	spec := record.DefaultBatchSpec()
	spec.ProducerID, spec.ProducerEpoch, spec.BaseSequence, spec.BaseTimestamp = pid, 0, seq, 1000
	if pid < 0 {
		spec.ProducerEpoch, spec.BaseSequence = -1, -1
	}
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i].Value = []byte("v")
	}
	b, err := record.EncodeBatch(spec, recs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendAsLeader(b, partition.AppendOptions{RequiredAcks: -1}); err != nil {
		t.Fatal(err)
	}
}

func strOr(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

// newCoordinatorEnv is newAdminEnv for the group and transaction APIs:
// __consumer_offsets and __transaction_state get one partition each, and
// a new group's first rebalance does not wait for more members.
//
// The internal topics are created, as a client's first FindCoordinator
// creates them, and the coordinators have loaded their partitions.
func newCoordinatorEnv(t *testing.T) *Broker {
	t.Helper()
	env := newAdminEnv(t, map[string]string{
		"offsets.topic.num.partitions":         "1",
		"transaction.state.log.num.partitions": "1",
		"group.initial.rebalance.delay.ms":     "0",
	})
	awaitCoordinators(t, env)
	return env
}

// awaitCoordinators asks FindCoordinator for a group and a transactional
// id, which creates the internal topics, and waits until this node's
// coordinators serve every partition of them.
func awaitCoordinators(t *testing.T, env *Broker) {
	t.Helper()
	for _, typ := range []int8{0, 1} {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.SetVersion(4)
		req.CoordinatorType, req.CoordinatorKeys = typ, []string{"k"}
		if c := serveReq(t, env, req).(*kmsg.FindCoordinatorResponse).Coordinators[0]; c.ErrorCode != 0 || c.NodeID != env.cfg.NodeID {
			t.Fatalf("FindCoordinator type %d: %v, node %d", typ, kerr.ErrorForCode(c.ErrorCode), c.NodeID)
		}
	}
	gc, err := env.replicas.Groups()
	if err != nil {
		t.Fatal(err)
	}
	tc, err := env.replicas.Txns()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(gc.LoadedPartitions()) < int(gc.Config().OffsetsTopicNumPartitions) ||
		len(tc.LoadedPartitions()) < int(tc.Config().TransactionStateLogNumPartitions) {
		if time.Now().After(deadline) {
			t.Fatalf("coordinators loaded %v and %v", gc.LoadedPartitions(), tc.LoadedPartitions())
		}
		time.Sleep(time.Millisecond)
	}
}

// serveReq dispatches a decoded request through the API table to its
// handler on env, as Serve does, from client "test-client" at 127.0.0.1,
// and returns the response. The request's version must be one the API
// serves.
func serveReq(t *testing.T, env *Broker, req kmsg.Request) kmsg.Response {
	t.Helper()
	fn, ok := Lookup(req.Key(), req.GetVersion())
	if !ok {
		t.Fatalf("%s v%d is not served", kmsg.NameForKey(req.Key()), req.GetVersion())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rc := &RequestContext{APIKey: req.Key(), APIVersion: req.GetVersion(), ClientID: "test-client", ClientAddr: "127.0.0.1:40000", Logger: quiet()}
	resp, err := fn(ctx, env, rc, req)
	if err != nil || resp == nil {
		t.Fatalf("%s v%d: response %v, error %v", kmsg.NameForKey(req.Key()), req.GetVersion(), resp, err)
	}
	return resp
}

// joinGroupReq is a classic consumer's JoinGroup v9 to group, subscribing
// to topics with the "range" protocol.
func joinGroupReq(group, memberID string, topics ...string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.SetVersion(9)
	req.Group, req.MemberID, req.ProtocolType = group, memberID, "consumer"
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 30000, 30000
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = topics
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", meta.AppendTo(nil)
	req.Protocols = append(req.Protocols, p)
	return req
}

// syncGroupReq is a SyncGroup v5 of the "range" consumer protocol; the
// leader's assigns partition 0 of each of topics to itself.
func syncGroupReq(group, memberID string, generation int32, leader bool, topics ...string) *kmsg.SyncGroupRequest {
	req := kmsg.NewPtrSyncGroupRequest()
	req.SetVersion(5)
	req.Group, req.MemberID, req.Generation = group, memberID, generation
	req.ProtocolType, req.Protocol = strPtr("consumer"), strPtr("range")
	if leader {
		assignment := kmsg.NewConsumerMemberAssignment()
		for _, topic := range topics {
			at := kmsg.NewConsumerMemberAssignmentTopic()
			at.Topic, at.Partitions = topic, []int32{0}
			assignment.Topics = append(assignment.Topics, at)
		}
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID, a.MemberAssignment = memberID, assignment.AppendTo(nil)
		req.GroupAssignment = append(req.GroupAssignment, a)
	}
	return req
}

// stableMember makes group a Stable classic group of one consumer
// subscribed to topics: JoinGroup twice (the first answers
// MEMBER_ID_REQUIRED with the member's id), then the leader's SyncGroup.
// It returns the member id and the generation.
func stableMember(t *testing.T, env *Broker, group string, topics ...string) (string, int32) {
	t.Helper()
	join := serveReq(t, env, joinGroupReq(group, "", topics...)).(*kmsg.JoinGroupResponse)
	if join.ErrorCode != kerr.MemberIDRequired.Code || join.MemberID == "" {
		t.Fatalf("first join: %v, member %q", kerr.ErrorForCode(join.ErrorCode), join.MemberID)
	}
	join = serveReq(t, env, joinGroupReq(group, join.MemberID, topics...)).(*kmsg.JoinGroupResponse)
	if join.ErrorCode != 0 || join.LeaderID != join.MemberID {
		t.Fatalf("join: %v, leader %q member %q", kerr.ErrorForCode(join.ErrorCode), join.LeaderID, join.MemberID)
	}
	sync := serveReq(t, env, syncGroupReq(group, join.MemberID, join.Generation, true, topics...)).(*kmsg.SyncGroupResponse)
	if sync.ErrorCode != 0 {
		t.Fatalf("sync: %v", kerr.ErrorForCode(sync.ErrorCode))
	}
	return join.MemberID, join.Generation
}

// consumerHeartbeatReq is a KIP-848 member's ConsumerGroupHeartbeat v1;
// topics, when given, are its subscription (a join, at epoch 0, needs one).
func consumerHeartbeatReq(group, memberID string, epoch int32, topics ...string) *kmsg.ConsumerGroupHeartbeatRequest {
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.SetVersion(1)
	req.Group, req.MemberID, req.MemberEpoch = group, memberID, epoch
	if epoch == 0 {
		req.RebalanceTimeoutMillis = 30000
	}
	if topics != nil {
		req.SubscribedTopicNames = topics
	}
	return req
}

// commitOffset commits one offset for group with OffsetCommit v8 as a
// client outside the group does (generation -1, no member id) and returns
// the partition's error code.
func commitOffset(t *testing.T, env *Broker, group, topic string, partition int32, offset int64) int16 {
	t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.SetVersion(8)
	req.Group, req.Generation = group, -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = partition, offset, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := serveReq(t, env, req).(*kmsg.OffsetCommitResponse)
	return resp.Topics[0].Partitions[0].ErrorCode
}

// committedOffset is group's committed offset of a partition by
// OffsetFetch v7 (-1 for none), failing on any error code.
func committedOffset(t *testing.T, env *Broker, group, topic string, partition int32) int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.SetVersion(7)
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{partition}
	req.Topics = append(req.Topics, rt)
	resp := serveReq(t, env, req).(*kmsg.OffsetFetchResponse)
	if resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("offset fetch of %s: %v %v", group, kerr.ErrorForCode(resp.ErrorCode), kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode))
	}
	return resp.Topics[0].Partitions[0].Offset
}

// initTxn initialises transactional id with InitProducerID v4 and returns
// its producer id and epoch.
func initTxn(t *testing.T, env *Broker, id string) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.SetVersion(4)
	req.TransactionalID, req.TransactionTimeoutMillis = &id, 60000
	req.ProducerID, req.ProducerEpoch = -1, -1
	resp := serveReq(t, env, req).(*kmsg.InitProducerIDResponse)
	if resp.ErrorCode != 0 {
		t.Fatalf("init producer id %s: %v", id, kerr.ErrorForCode(resp.ErrorCode))
	}
	return resp.ProducerID, resp.ProducerEpoch
}

// addPartitionsReq is a producer's AddPartitionsToTxn v3 of partitions of
// one topic.
func addPartitionsReq(id string, pid int64, epoch int16, topic string, partitions ...int32) *kmsg.AddPartitionsToTxnRequest {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.SetVersion(3)
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, pid, epoch
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic, rt.Partitions = topic, partitions
	req.Topics = append(req.Topics, rt)
	return req
}

// testNode is an in-process broker serving on a loopback port.
type testNode struct {
	b    *Broker
	srv  *server.Server
	addr string
}

func startNode(t testing.TB, props map[string]string) *testNode {
	t.Helper()
	return startNodeWith(t, props, Options{})
}

// startNodeWith is startNode with Options (a file system, a clock); the
// address and logger are set here.
func startNodeWith(t testing.TB, props map[string]string, opts Options) *testNode {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": dir, "samsa.admin.listener": ""}
	for k, v := range props {
		all[k] = v
	}
	cfg, err := config.Parse(all)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.AdvertisedAddr, opts.Logger = l.Addr().String(), slog.New(slog.DiscardHandler)
	b, err := New(cfg, opts)
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	srv := server.New(server.Config{MaxRequestBytes: cfg.SocketRequestMaxBytes}, b)
	if err := srv.Serve(l); err != nil {
		t.Fatal(err)
	}
	n := &testNode{b: b, srv: srv, addr: l.Addr().String()}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return n
}

func (n *testNode) client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(n.addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// rawRequest sends one request on a fresh connection and returns the
// response body (after the correlation id and any header tags).
func rawRequest(t testing.TB, addr string, req kmsg.Request) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wire := kmsg.NewRequestFormatter(kmsg.FormatterClientID("test")).AppendRequest(nil, req, 7)
	if _, err := c.Write(wire); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatal(err)
	}
	if corr := int32(binary.BigEndian.Uint32(body)); corr != 7 {
		t.Fatalf("correlation id %d", corr)
	}
	body = body[4:]
	if req.IsFlexible() && req.Key() != 18 {
		body = body[1:] // empty header tags
	}
	return body
}

// startNodeIn starts a broker over dir; stop shuts it down (server,
// group coordinator, broker).
func startNodeIn(t *testing.T, dir string, props map[string]string) (addr string, stop func()) {
	t.Helper()
	_, addr, stop = startBrokerIn(t, dir, props)
	return addr, stop
}

// startBrokerIn is startNodeIn that also returns the broker.
func startBrokerIn(t *testing.T, dir string, props map[string]string) (b *Broker, addr string, stop func()) {
	t.Helper()
	all := map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": dir, "samsa.admin.listener": "", "group.initial.rebalance.delay.ms": "0"}
	for k, v := range props {
		all[k] = v
	}
	cfg, err := config.Parse(all)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err = New(cfg, Options{AdvertisedAddr: l.Addr().String(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	srv := server.New(server.Config{MaxRequestBytes: cfg.SocketRequestMaxBytes}, b)
	if err := srv.Serve(l); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b.replicas.CloseGroups()
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			if err := b.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return b, l.Addr().String(), stop
}

func txnTestClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// tv1Client is a client that speaks transaction protocol version 1: the
// request versions before KIP-890 part 2 (Produce v11, EndTxn v4,
// TxnOffsetCommit v4).
func tv1Client(t *testing.T, addr string) *kgo.Client {
	t.Helper()
	v := kversion.Stable()
	v.SetMaxKeyVersion(int16(kmsg.Produce), 11)
	v.SetMaxKeyVersion(int16(kmsg.EndTxn), 4)
	v.SetMaxKeyVersion(int16(kmsg.TxnOffsetCommit), 4)
	return txnTestClient(t, addr, kgo.MaxVersions(v))
}

// consumeAll reads topic from the start up to end offsets under an
// isolation level and returns the values.
func consumeAll(t *testing.T, addr, topic string, committed bool, want int) []string {
	t.Helper()
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	cl := txnTestClient(t, addr, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var out []string
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	return out
}

// txnProduce sends one transactional batch of one record to topic-0 and
// returns the partition's error code. The client picks the Produce
// version: v11 for tv1Client (transaction protocol version 1), v13 for an
// uncapped client.
func txnProduce(t *testing.T, b *Broker, cl *kgo.Client, id, topic string, pid int64, epoch int16, seq int32) int16 {
	t.Helper()
	spec := record.DefaultBatchSpec()
	spec.Transactional, spec.ProducerID, spec.ProducerEpoch, spec.BaseSequence = true, pid, epoch, seq
	spec.BaseTimestamp = time.Now().UnixMilli()
	bld := record.NewBuilder(spec)
	if err := bld.Append(record.Record{Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	batch, err := bld.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.TransactionID, req.Acks, req.TimeoutMillis = &id, -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic // v13+ names topics by id
	if tt := b.meta.Image().Topic(topic); tt != nil {
		rt.TopicID = tt.ID
	}
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// apiFeatures returns the supported transaction.version range and the
// finalized level (-1 when not finalized) with the features epoch.
func apiFeatures(t *testing.T, cl *kgo.Client) (minV, maxV, finalized int16, epoch int64) {
	t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1.0"
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	minV, maxV, finalized = -1, -1, -1
	for _, f := range resp.SupportedFeatures {
		if f.Name == txn.FeatureName {
			minV, maxV = f.MinVersion, f.MaxVersion
		}
	}
	for _, f := range resp.FinalizedFeatures {
		if f.Name == txn.FeatureName {
			finalized = f.MaxVersionLevel
		}
	}
	return minV, maxV, finalized, resp.FinalizedFeaturesEpoch
}

// fetchOffset is OffsetFetch (v7) of topic-0: the error code and offset.
func fetchOffset(t *testing.T, cl *kgo.Client, groupID, topic string, requireStable bool) (int16, int64) {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 7
	req.Group, req.RequireStable = groupID, requireStable
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{0}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 {
		return resp.ErrorCode, -1
	}
	p := resp.Topics[0].Partitions[0]
	return p.ErrorCode, p.Offset
}

// waitOffset polls OffsetFetch until the group's offset is want.
func waitOffset(t *testing.T, cl *kgo.Client, groupID, topic string, want int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, off := fetchOffset(t, cl, groupID, topic, true)
		if code == 0 && off == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("offset of %s: %d (%v), want %d", groupID, off, kerr.ErrorForCode(code), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

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
