package group

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// storeGroupLocked writes the classic group's metadata record (generation,
// protocol, leader, members and their assignments), Kafka's
// GroupMetadataValue v3.
func (g *group) storeGroupLocked() error {
	v := kmsg.NewGroupMetadataValue()
	v.Version = 3
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		v.Protocol = strPtr(g.protocol)
	}
	if g.leader != "" {
		v.Leader = strPtr(g.leader)
	}
	v.CurrentStateTimestamp = g.stateTime.UnixMilli()
	for _, m := range g.sortedMembersLocked() {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID = m.id
		vm.InstanceID = m.instanceID
		vm.ClientID = m.clientID
		vm.ClientHost = m.clientHost
		vm.RebalanceTimeoutMillis = m.rebalanceTimeoutMs
		vm.SessionTimeoutMillis = m.sessionTimeoutMs
		vm.Subscription = m.metadataFor(g.protocol)
		vm.Assignment = m.assignment
		if vm.Assignment == nil {
			vm.Assignment = []byte{}
		}
		v.Members = append(v.Members, vm)
	}
	return g.appendLocked([]Record{{Key: groupMetadataKey(g.id), Value: v.AppendTo(nil)}})
}

// replayPartition reads a partition of __consumer_offsets and rebuilds
// its groups: committed offsets, and classic groups with their last
// generation and members. A group with members comes back Stable (its
// members keep heartbeating with the generation they know; their session
// timers are armed); without, Empty. The groups are not in the
// coordinator's map yet. Records that do not decode are skipped with a
// warning, as Kafka does not stop loading on them either, and so are
// groups whose id does not belong in the partition.
func (c *Coordinator) replayPartition(ctx context.Context, p int32) (map[string]*group, error) {
	type loadState struct {
		meta    *kmsg.GroupMetadataValue
		offsets map[string]map[int32]offsetEntry
	}
	states := map[string]*loadState{}
	get := func(id string) *loadState {
		s := states[id]
		if s == nil {
			s = &loadState{offsets: map[string]map[int32]offsetEntry{}}
			states[id] = s
		}
		return s
	}
	err := c.store.Replay(ctx, p, func(r Record) error {
		d, err := decodeRecord(r)
		if errors.Is(err, errUnknownRecord) {
			return nil
		}
		if err != nil {
			c.logger.Warn("skipping undecodable __consumer_offsets record", "partition", p, "err", err)
			return nil
		}
		switch {
		case d.offsetKey != nil:
			s := get(d.offsetKey.Group)
			ps := s.offsets[d.offsetKey.Topic]
			if d.offset == nil {
				if ps != nil {
					delete(ps, d.offsetKey.Partition)
				}
				return nil
			}
			if ps == nil {
				ps = map[int32]offsetEntry{}
				s.offsets[d.offsetKey.Topic] = ps
			}
			ps[d.offsetKey.Partition] = offsetEntryOf(d.offset)
		case d.groupKey != nil:
			get(d.groupKey.Group).meta = d.group
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("replay %s partition %d: %w", OffsetsTopic, p, err)
	}
	groups := map[string]*group{}
	for id, s := range states {
		n := 0
		for _, ps := range s.offsets {
			n += len(ps)
		}
		if s.meta == nil && n == 0 {
			continue
		}
		if q := c.PartitionFor(id); q != p {
			c.logger.Warn("skipping group found in another partition than its own", "group", id, "partition", p, "its_partition", q)
			continue
		}
		g := newGroup(c, id)
		for t, ps := range s.offsets {
			if len(ps) > 0 {
				g.offsets[t] = ps
			}
		}
		if m := s.meta; m != nil {
			g.protocolType = m.ProtocolType
			g.generation = m.Generation
			if m.Protocol != nil {
				g.protocol = *m.Protocol
			}
			if m.Leader != nil {
				g.leader = *m.Leader
			}
			if m.CurrentStateTimestamp > 0 {
				g.stateTime = time.UnixMilli(m.CurrentStateTimestamp)
			}
			for _, vm := range m.Members {
				mem := &member{
					id: vm.MemberID, instanceID: vm.InstanceID, clientID: vm.ClientID, clientHost: vm.ClientHost,
					rebalanceTimeoutMs: vm.RebalanceTimeoutMillis, sessionTimeoutMs: vm.SessionTimeoutMillis,
					protocolType: m.ProtocolType, assignment: vm.Assignment, synced: true,
				}
				if mem.rebalanceTimeoutMs <= 0 {
					mem.rebalanceTimeoutMs = mem.sessionTimeoutMs
				}
				mem.protocols = []kmsg.JoinGroupRequestProtocol{{Name: g.protocol, Metadata: vm.Subscription}}
				g.members[mem.id] = mem
				if mem.instanceID != nil {
					g.instances[*mem.instanceID] = mem.id
				}
			}
			if len(g.members) > 0 {
				g.state = StateStable
				g.updateSubscribedLocked()
			}
		}
		g.mu.Lock() // not shared yet; the timers expect the lock
		for _, m := range g.members {
			g.heartbeatLocked(m)
		}
		g.mu.Unlock()
		groups[id] = g
	}
	return groups, nil
}
