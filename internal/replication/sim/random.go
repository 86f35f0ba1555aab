package sim

import "slices"

// This file is the seeded scheduler of random runs: each step either
// delivers the earliest message or timer whose receiver can take it
// (network delays are random, so messages overtake one another) or
// injects an action: a produce, a consumer's read, the clock moving on,
// or a fault within the budget (at most one node crashed and one node
// cut off or paused at a time).

// dropRate is the share of fetch and AlterPartition messages lost.
const dropRate = 0.03

// Run runs steps random steps, checking the invariants after each; it
// stops at the first violation.
func (s *Sim) Run(steps int) {
	for i := 0; i < steps && len(s.Violations) == 0; i++ {
		s.Step()
	}
}

// Step runs one random step and checks the invariants.
func (s *Sim) Step() {
	s.step++
	if s.rng.Intn(4) == 0 || !s.nextEvent() {
		s.randomAction()
	}
	s.checkProduces()
	s.Check()
}

// nextEvent delivers the earliest deliverable event, moving the clock to
// it; false if there is none.
func (s *Sim) nextEvent() bool {
	best := -1
	for i, e := range s.events {
		if e.to > 0 {
			if n := s.node(e.to); n.paused && n.up && n.inc == e.inc {
				continue
			}
		}
		if best < 0 || e.at < s.events[best].at || (e.at == s.events[best].at && e.seq < s.events[best].seq) {
			best = i
		}
	}
	if best < 0 {
		return false
	}
	e := s.events[best]
	s.events = slices.Delete(s.events, best, best+1)
	s.now = max(s.now, e.at)
	s.deliver(e)
	return true
}

// lossy reports whether a message of kind is dropped on the way.
func (s *Sim) lossy(kind string) bool {
	switch kind {
	case "fetch", "fetch-resp", "alter", "alter-resp":
		return s.opts.Random && s.rng.Float64() < dropRate
	}
	return false
}

// ctrlTimer runs fn at the controller at time at.
func (s *Sim) ctrlTimer(at int64, desc string, fn func()) {
	s.schedule(&event{at: at, kind: "timer", desc: desc, run: fn})
}

// silent reports whether node n cannot heartbeat the controller.
func (n *node) silent() bool { return !n.up || n.paused || n.isolated }

// expireSession fences n at the controller once its session expires, if
// it is still silent then (and the same incarnation).
func (s *Sim) expireSession(n *node) {
	inc := n.inc
	s.ctrlTimer(s.now+sessionExpiry, "session expiry", func() {
		if n.silent() && (n.inc == inc || !n.up) {
			s.ctrl.fence(n.id)
		}
	})
}

// unfenceLater lets n back in once it has caught up with the metadata.
func (s *Sim) unfenceLater(n *node) {
	inc := n.inc
	s.ctrlTimer(s.now+5+s.rng.Int63n(20), "unfence", func() {
		if !n.silent() && n.inc == inc {
			s.ctrl.unfence(n.id)
		}
	})
}

func (s *Sim) randomAction() {
	r := s.rng.Intn(100)
	var down, cut *node
	for _, n := range s.nodes {
		if !n.up {
			down = n
		}
		if n.up && (n.isolated || n.paused) {
			cut = n
		}
	}
	pick := s.nodes[s.rng.Intn(len(s.nodes))]
	switch {
	case r < 35:
		target := pick
		if s.ctrl.leader > 0 && s.rng.Intn(5) > 0 {
			target = s.node(s.ctrl.leader)
		}
		if !target.up || target.paused {
			return
		}
		acks := int16(-1)
		if s.rng.Intn(10) < 3 {
			acks = 1
		}
		if _, err := s.Produce(target.id, 1+s.rng.Intn(4), acks); err != nil {
			s.violate("produce: %v", err)
		}
	case r < 45:
		if pick.up && !pick.paused {
			if _, err := s.Consume(pick.id); err != nil {
				s.violate("consume: %v", err)
			}
		}
	case r < 65:
		s.now += 1 + s.rng.Int63n(30)
	case r < 69:
		if down == nil && pick != cut {
			s.crash(pick)
			s.expireSession(pick)
		}
	case r < 79:
		if down != nil {
			if err := s.restart(down, false); err != nil {
				s.violate("restart: %v", err)
				return
			}
			s.ctrl.publishTo(down)
			s.unfenceLater(down)
		}
	case r < 83:
		if cut == nil && pick.up && pick != down {
			if s.rng.Intn(2) == 0 {
				pick.isolated = true
				s.tracef("n%d cut off", pick.id)
			} else {
				pick.paused = true
				s.tracef("n%d paused", pick.id)
			}
			s.expireSession(pick)
		}
	case r < 93:
		if cut != nil {
			cut.isolated, cut.paused = false, false
			s.tracef("n%d back", cut.id)
			s.unfenceLater(cut)
		}
	default:
		// A group-commit round on a random node, besides the scheduled
		// ones.
		if pick.up && !pick.paused {
			pick.commitRound()
		}
	}
}
