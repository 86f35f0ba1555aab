package metadata

import "slices"

// Leader elections and the controller's half of ISR maintenance, as
// Kafka's KRaft controller does them (ReplicationControlManager and
// PartitionChangeBuilder, KIP-841):
//
//   - A leader is only ever elected from the ISR: the current leader stays
//     while it is in the ISR and usable; otherwise the first replica, in
//     replica order, that is in the ISR and usable (registered, unfenced,
//     not in controlled shutdown) leads; if there is none the partition
//     has no leader (-1). There is no unclean election: a replica outside
//     the ISR may lack committed records, and electing it would lose them.
//     Kafka's unclean.leader.election.enable (default false) is not
//     supported, nor are KIP-966's eligible leader replicas.
//   - A broker that stops being usable (fenced because its heartbeats
//     stopped, replaced by a new incarnation, or in controlled shutdown)
//     leaves every ISR, in the same batch that records it, so no image
//     shows it in sync while it cannot be. The ISR is never emptied: its
//     last member stays, leaderless, because it holds every committed
//     record and must lead again when it comes back.
//   - A broker that becomes usable (unfenced) leads the leaderless
//     partitions whose ISR holds it.
//   - Everything else about the ISR is the leader's to ask for, with
//     AlterPartition (see Store.AlterPartition).
//
// The epochs follow from the records (see PartitionChangeRecord): a leader
// change bumps the leader epoch and the partition epoch, an ISR change
// alone only the partition epoch.

// electLeader returns the leader p gets with the given ISR: its current
// leader while that one is in isr and acceptable, else the first replica,
// in replica order, that is in isr and acceptable, else -1.
func electLeader(p Partition, isr []int32, acceptable func(int32) bool) int32 {
	if p.Leader >= 0 && slices.Contains(isr, p.Leader) && acceptable(p.Leader) {
		return p.Leader
	}
	for _, r := range p.Replicas {
		if slices.Contains(isr, r) && acceptable(r) {
			return r
		}
	}
	return -1
}

// changeISR returns the record that gives p the target ISR and the leader
// electLeader picks from it, or nil when neither changes. An empty target
// elects no leader but keeps the ISR as it is.
func changeISR(topicID Uuid, p Partition, isr []int32, acceptable func(int32) bool) *PartitionChangeRecord {
	rec := &PartitionChangeRecord{TopicID: topicID, PartitionID: p.ID, Leader: NoLeaderChange}
	changed := false
	if leader := electLeader(p, isr, acceptable); leader != p.Leader {
		rec.Leader = leader
		changed = true
	}
	if len(isr) > 0 && !slices.Equal(isr, p.ISR) {
		rec.ISR = slices.Clone(isr)
		changed = true
	}
	if !changed {
		return nil
	}
	return rec
}

// fenceChanges returns the partition changes of broker id ceasing to be
// usable: it leaves every ISR it is in (unless it is the last member) and
// the partitions it led get a new leader from what remains of their ISR,
// or none.
func fenceChanges(im *Image, id int32) []Record {
	acceptable := func(r int32) bool { return r != id && im.usable(r) }
	var records []Record
	eachPartition(im, func(t *Topic, p Partition) {
		if p.Leader != id && !slices.Contains(p.ISR, id) {
			return
		}
		isr := slices.DeleteFunc(slices.Clone(p.ISR), func(r int32) bool { return r == id })
		if rec := changeISR(t.ID, p, isr, acceptable); rec != nil {
			records = append(records, rec)
		}
	})
	return records
}

// unfenceChanges returns the partition changes of broker id becoming
// usable: each leaderless partition whose ISR holds it gets a leader. The
// image may still show id fenced; it counts as usable here.
func unfenceChanges(im *Image, id int32) []Record {
	acceptable := func(r int32) bool { return r == id || im.usable(r) }
	var records []Record
	eachPartition(im, func(t *Topic, p Partition) {
		if p.Leader != -1 || !slices.Contains(p.ISR, id) {
			return
		}
		if rec := changeISR(t.ID, p, p.ISR, acceptable); rec != nil {
			records = append(records, rec)
		}
	})
	return records
}

// eachPartition calls fn for every partition, topics in name order.
func eachPartition(im *Image, fn func(t *Topic, p Partition)) {
	for _, name := range im.TopicNames() {
		t := im.Topics[name]
		for _, p := range t.Partitions {
			fn(t, p)
		}
	}
}
