package metadata

import (
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Replica placement of new partitions (CreateTopic and CreatePartitions),
// with the goals of Kafka's StripedReplicaPlacer: a partition's replicas
// are distinct brokers on as many racks as it has replicas (while there
// are racks), leaders spread evenly over the brokers, and the followers of
// one broker's partitions spread over the others, so that when it fails
// its leaderships scatter. Only usable brokers (registered, unfenced, not
// shutting down) get replicas; a replication factor above their number is
// INVALID_REPLICATION_FACTOR, worded as Kafka words it.
//
// The leaders go round a list of the usable brokers that alternates racks
// (placementOrder), from a random start, so consecutive partitions lead on
// different racks and every broker leads in turn. A partition's followers
// come from the racks after its leader's, one rack after another, each
// rack giving the next of its brokers round a cursor of its own (from a
// random start) that the partition does not already hold. The cursors
// move at another pace than the leaders, so one leader's followers vary.

// placePartitions places partitions first..first+n-1 with rf replicas
// each. intn is the source of the random starts (rand.IntN).
func placePartitions(im *Image, first, n int32, rf int, intn func(int) int) ([]Partition, error) {
	pl := newPlacer(im, intn)
	switch {
	case len(pl.leaders) == 0:
		return nil, newError(kerr.InvalidReplicationFactor, "Unable to replicate the partition %d time(s): All brokers are currently fenced or in controlled shutdown.", rf)
	case rf > len(pl.leaders):
		return nil, newError(kerr.InvalidReplicationFactor, "Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only %d broker(s) are registered.", rf, rf, len(pl.leaders))
	}
	parts := make([]Partition, 0, n)
	for i := int32(0); i < n; i++ {
		replicas := pl.place(rf)
		parts = append(parts, Partition{ID: first + i, Leader: replicas[0], Replicas: replicas, ISR: slices.Clone(replicas)})
	}
	return parts, nil
}

// placer places the partitions of one request.
type placer struct {
	racks   [][]int32     // usable brokers by rack: racks by name, brokers by id
	rackOf  map[int32]int // broker → its index in racks
	leaders []int32       // placementOrder
	next    int           // the index in leaders of the next partition's leader
	follow  []int         // per rack: where its cursor for followers is
}

func newPlacer(im *Image, intn func(int) int) *placer {
	pl := &placer{rackOf: map[int32]int{}, leaders: placementOrder(im)}
	var names []string
	for _, id := range im.UsableBrokerIDs() {
		if r := im.Brokers[id].Rack; !slices.Contains(names, r) {
			names = append(names, r)
		}
	}
	sort.Strings(names)
	byRack := map[string]int{}
	for i, r := range names {
		byRack[r] = i
	}
	pl.racks = make([][]int32, len(names))
	for _, id := range im.UsableBrokerIDs() {
		i := byRack[im.Brokers[id].Rack]
		pl.racks[i] = append(pl.racks[i], id)
		pl.rackOf[id] = i
	}
	pl.follow = make([]int, len(pl.racks))
	for i, rack := range pl.racks {
		pl.follow[i] = intn(len(rack))
	}
	if len(pl.leaders) > 0 {
		pl.next = intn(len(pl.leaders))
	}
	return pl
}

// place returns the next partition's replicas, its leader first. rf must
// be at most the number of usable brokers.
func (pl *placer) place(rf int) []int32 {
	leader := pl.leaders[pl.next]
	pl.next = (pl.next + 1) % len(pl.leaders)
	replicas := append(make([]int32, 0, rf), leader)
	home := pl.rackOf[leader]
	for r := 1; len(replicas) < rf; r++ {
		x := (home + r) % len(pl.racks)
		rack := pl.racks[x]
		for k := range rack {
			b := rack[(pl.follow[x]+k)%len(rack)]
			if !slices.Contains(replicas, b) {
				replicas = append(replicas, b)
				pl.follow[x] = (pl.follow[x] + k + 1) % len(rack)
				break
			}
		}
	}
	return replicas
}

// placementOrder lists the brokers new replicas may go to (registered,
// unfenced, not shutting down) alternating racks: the first broker of each
// rack, then the second of each, and so on, racks and brokers in id order.
// Without racks it is the brokers in id order.
func placementOrder(im *Image) []int32 {
	byRack := map[string][]int32{}
	var racks []string
	for _, id := range im.UsableBrokerIDs() {
		r := im.Brokers[id].Rack
		if _, ok := byRack[r]; !ok {
			racks = append(racks, r)
		}
		byRack[r] = append(byRack[r], id)
	}
	sort.Strings(racks)
	var out []int32
	for i := 0; ; i++ {
		added := false
		for _, r := range racks {
			if i < len(byRack[r]) {
				out = append(out, byRack[r][i])
				added = true
			}
		}
		if !added {
			return out
		}
	}
}

// assignedPartition is partition p of an explicit replica assignment,
// which must name distinct, registered brokers. As in Kafka, its ISR is
// the usable ones among them, in assignment order, and the first of those
// leads; a replica on a fenced broker joins the ISR once it has caught up
// (AlterPartition). An assignment with no usable broker is refused.
func assignedPartition(im *Image, p int32, replicas []int32) (Partition, error) {
	if len(replicas) == 0 {
		return Partition{}, newError(kerr.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list for partition %d.", p)
	}
	var isr []int32
	for i, b := range replicas {
		if slices.Contains(replicas[:i], b) {
			return Partition{}, newError(kerr.InvalidReplicaAssignment, "The manual partition assignment includes the broker %d more than once for partition %d.", b, p)
		}
		br, ok := im.Brokers[b]
		if !ok {
			return Partition{}, newError(kerr.InvalidReplicaAssignment, "The manual partition assignment includes broker %d, but no such broker is registered.", b)
		}
		if br.Usable() {
			isr = append(isr, b)
		}
	}
	if len(isr) == 0 {
		return Partition{}, newError(kerr.InvalidReplicaAssignment, "All brokers specified in the manual partition assignment for partition %d are fenced or in controlled shutdown.", p)
	}
	return Partition{ID: p, Leader: isr[0], Replicas: slices.Clone(replicas), ISR: isr}, nil
}
