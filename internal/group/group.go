package group

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a group's state. Classic groups move through Empty,
// PreparingRebalance, CompletingRebalance and Stable; KIP-848 consumer groups
// through Empty, Assigning, Reconciling and Stable. Dead marks a group being
// removed.
type State int8

const (
	StateEmpty State = iota
	StatePreparingRebalance
	StateCompletingRebalance
	StateStable
	StateDead
	StateAssigning   // consumer groups: the target assignment is being computed
	StateReconciling // consumer groups: members are converging to the target
)

// String is the state's name as Kafka reports it in ListGroups and
// DescribeGroups.
func (s State) String() string {
	switch s {
	case StateEmpty:
		return "Empty"
	case StatePreparingRebalance:
		return "PreparingRebalance"
	case StateCompletingRebalance:
		return "CompletingRebalance"
	case StateStable:
		return "Stable"
	case StateDead:
		return "Dead"
	case StateAssigning:
		return "Assigning"
	case StateReconciling:
		return "Reconciling"
	}
	return "Unknown"
}

// Type is a group's protocol family, as ListGroups v5 reports it.
type Type int8

const (
	TypeClassic  Type = iota // JoinGroup/SyncGroup/Heartbeat
	TypeConsumer             // KIP-848 ConsumerGroupHeartbeat
)

func (t Type) String() string {
	if t == TypeConsumer {
		return "consumer"
	}
	return "classic"
}

// offsetEntry is one committed offset.
type offsetEntry struct {
	offset          int64
	leaderEpoch     int32
	metadata        string
	commitTimestamp int64 // ms
	expireTimestamp int64 // ms; -1: expiry follows the group's state (offsets.retention.minutes)
}

// group is one consumer group. All fields are guarded by mu.
type group struct {
	mu sync.Mutex
	c  *Coordinator

	id        string
	partition int32 // of __consumer_offsets
	typ       Type
	state     State
	stateTime time.Time // when state last changed (Kafka's currentStateTimestamp)

	// classic protocol
	protocolType string // "" until a member joins; kept while Empty
	protocol     string // selected protocol of the current generation
	generation   int32
	leader       string
	members      map[string]*member
	instances    map[string]string // group.instance.id → member id
	pending      map[string]Timer  // KIP-394: member ids handed out with MEMBER_ID_REQUIRED
	newMemberAdd bool              // a member joined during the initial delay
	delayLeft    time.Duration     // initial delay: rebalance time still allowed
	timerSeq     uint64            // invalidates stale rebalance/sync timers
	rebalTimer   Timer             // join or pending-sync deadline
	subscribed   map[string]bool   // topics of the consumer protocol's subscriptions; nil if unknown

	offsets map[string]map[int32]offsetEntry

	cg *consumerGroup // KIP-848 state when typ == TypeConsumer
}

// member is one member of a classic group.
type member struct {
	id                 string
	instanceID         *string
	clientID           string
	clientHost         string
	rebalanceTimeoutMs int32
	sessionTimeoutMs   int32
	protocolType       string
	protocols          []kmsg.JoinGroupRequestProtocol
	assignment         []byte

	joinCb func(*kmsg.JoinGroupResponse) // set while a JoinGroup waits
	syncCb func(*kmsg.SyncGroupResponse) // set while a SyncGroup waits
	synced bool                          // sent SyncGroup in this generation

	deadline time.Time // session expiry
	timer    Timer
	isNew    bool
}

func (m *member) awaitingJoin() bool { return m.joinCb != nil }
func (m *member) awaitingSync() bool { return m.syncCb != nil }

func (m *member) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

func sameProtocols(a, b []kmsg.JoinGroupRequestProtocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Metadata, b[i].Metadata) {
			return false
		}
	}
	return true
}

func newGroup(c *Coordinator, id string) *group {
	return &group{
		c:         c,
		id:        id,
		partition: c.PartitionFor(id),
		state:     StateEmpty,
		stateTime: c.clock.Now(),
		members:   map[string]*member{},
		instances: map[string]string{},
		pending:   map[string]Timer{},
		offsets:   map[string]map[int32]offsetEntry{},
		delayLeft: -1,
	}
}

func (g *group) transitionLocked(s State) {
	g.state = s
	g.stateTime = g.c.clock.Now()
}

// isEmptyLocked: no members of either protocol.
func (g *group) isEmptyLocked() bool {
	if g.typ == TypeConsumer {
		return g.cg == nil || len(g.cg.members) == 0
	}
	return len(g.members) == 0
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newMemberID is Kafka's member id: the client id (or instance id for a
// static member) and a UUID.
func newMemberID(clientID string, instanceID *string) string {
	prefix := clientID
	if instanceID != nil {
		prefix = *instanceID
	}
	return prefix + "-" + newUUID()
}

// candidateProtocolsLocked are the protocols every member supports.
func (g *group) candidateProtocolsLocked() map[string]bool {
	counts := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			counts[p.Name]++
		}
	}
	out := map[string]bool{}
	for n, c := range counts {
		if c == len(g.members) {
			out[n] = true
		}
	}
	return out
}

// supportsProtocolsLocked: a member may join if its protocol type matches
// and it shares a protocol with every current member.
func (g *group) supportsProtocolsLocked(protocolType string, protocols []kmsg.JoinGroupRequestProtocol) bool {
	if len(g.members) == 0 {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	cands := g.candidateProtocolsLocked()
	for _, p := range protocols {
		if cands[p.Name] {
			return true
		}
	}
	return false
}

// selectProtocolLocked picks, among the protocols all members support, the
// one most members prefer (each votes for its first candidate); ties go to
// the name first in sort order, so every coordinator picks the same.
func (g *group) selectProtocolLocked() string {
	cands := g.candidateProtocolsLocked()
	votes := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			if cands[p.Name] {
				votes[p.Name]++
				break
			}
		}
	}
	names := make([]string, 0, len(votes))
	for n := range votes {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestVotes := "", -1
	for _, n := range names {
		if votes[n] > bestVotes {
			best, bestVotes = n, votes[n]
		}
	}
	return best
}

// updateSubscribedLocked records the topics the members subscribe to when
// the group speaks the consumer protocol, for offset expiry and
// OffsetDelete.
func (g *group) updateSubscribedLocked() {
	if g.protocolType != "consumer" || g.protocol == "" {
		g.subscribed = nil
		return
	}
	subs := map[string]bool{}
	for _, m := range g.members {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			g.subscribed = nil // unparseable: topics unknown
			return
		}
		for _, t := range meta.Topics {
			subs[t] = true
		}
	}
	g.subscribed = subs
}

func strPtr(s string) *string { return &s }

func equalFoldAny(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
