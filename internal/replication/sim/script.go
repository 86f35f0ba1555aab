package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/samsa-streaming/samsa/internal/record"
)

// This file is the command language of scenario scripts. In a script
// nothing happens by chance: messages (fetches and their answers,
// AlterPartitions and their answers, images) wait in a queue; fetch
// runs one follower's fetch from request to durable high watermark;
// deliver lets the queue go. Every command ends with the invariants
// checked; a broken one prints a VIOLATION line.

// Exec runs one script command and returns its output.
func (s *Sim) Exec(cmd string, args map[string]string) (string, error) {
	var b strings.Builder
	s.out = &b
	defer func() { s.out = nil }()
	s.step++
	n := func() (*node, error) {
		v, err := strconv.Atoi(args["node"])
		if err != nil || v < 1 || v > len(s.nodes) {
			return nil, fmt.Errorf("%s: node=%q is not a node", cmd, args["node"])
		}
		return s.node(int32(v)), nil
	}
	var err error
	switch cmd {
	case "produce":
		var x *node
		if x, err = n(); err != nil {
			return "", err
		}
		records, acks := 1, int16(-1)
		if v, ok := args["records"]; ok {
			records, _ = strconv.Atoi(v)
		}
		if args["acks"] == "1" {
			acks = 1
		}
		var res string
		if res, err = s.Produce(x.id, records, acks); err == nil {
			fmt.Fprintf(&b, "n%d: %s\n", x.id, res)
		}
	case "fetch":
		var x *node
		if x, err = n(); err != nil {
			return "", err
		}
		s.scriptFetch(x, args["sync"] != "false", args["lose"] == "response")
	case "sync":
		var x *node
		if x, err = n(); err != nil {
			return "", err
		}
		x.commitRound()
		fmt.Fprintf(&b, "n%d: durable to %d\n", x.id, x.l.DurableOffset())
	case "crash":
		var x *node
		if x, err = n(); err != nil {
			return "", err
		}
		s.crash(x)
	case "restart":
		var x *node
		if x, err = n(); err != nil {
			return "", err
		}
		if err = s.restart(x, args["wipe"] == "true"); err == nil {
			fmt.Fprintf(&b, "n%d: log end %d, high watermark %d, broker epoch %d\n", x.id, x.p.LogEndOffset(), x.p.HighWatermark(), x.brokerEpoch)
			s.ctrl.publishTo(x)
		}
	case "fence", "unfence", "isolate", "heal":
		var x *node
		if x, err = n(); err != nil {
			return "", err
		}
		switch cmd {
		case "fence":
			s.ctrl.fence(x.id)
		case "unfence":
			s.ctrl.unfence(x.id)
		case "isolate":
			x.isolated = true
		case "heal":
			x.isolated = false
		}
	case "elect":
		prefer := int32(-1)
		if v, ok := args["leader"]; ok {
			p, _ := strconv.Atoi(v)
			prefer = int32(p)
		}
		if e := s.ctrl.elect(prefer); e != nil {
			fmt.Fprintf(&b, "refused: %v\n", e)
		}
	case "shrink":
		var x *node
		if x, err = n(); err != nil {
			return "", err
		}
		if c := x.p.MaybeShrinkISR(s.clock(), lagMax); c != nil {
			fmt.Fprintf(&b, "n%d proposes the ISR %v\n", x.id, c.IDs())
			x.sendAlter(c)
		} else {
			fmt.Fprintf(&b, "n%d: nothing to shrink\n", x.id)
		}
	case "tick":
		ms, _ := strconv.ParseInt(args["ms"], 10, 64)
		s.now += ms
	case "deliver":
		s.deliverQueued(args["kind"])
	case "drop":
		before := len(s.events)
		s.events = slices.DeleteFunc(s.events, func(e *event) bool { return e.kind != "timer" && (args["kind"] == "" || e.kind == args["kind"]) })
		fmt.Fprintf(&b, "dropped %d\n", before-len(s.events))
	case "queue":
		for _, e := range s.events {
			fmt.Fprintf(&b, "%s %s\n", e.kind, e.desc)
		}
	case "consume":
		var x *node
		if x, err = n(); err != nil {
			return "", err
		}
		var res string
		if res, err = s.Consume(x.id); err == nil {
			fmt.Fprintln(&b, res)
		}
	case "state":
		s.printState(&b)
	case "check":
		if len(s.Violations) == 0 {
			fmt.Fprintln(&b, "ok")
		} else {
			fmt.Fprintf(&b, "%d violations\n", len(s.Violations))
		}
	default:
		return "", fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		return "", err
	}
	s.checkProduces()
	s.Check()
	return b.String(), nil
}

// scriptFetch runs one fetch of follower x: the request and its answer
// are delivered at once (other messages stay queued); with sync the
// follower's commit round follows, and it adopts the high watermark.
func (s *Sim) scriptFetch(x *node, sync, loseResponse bool) {
	if x.follow <= 0 || !x.up {
		s.printf("n%d follows no leader\n", x.id)
		return
	}
	x.sendFetch()
	req := s.events[len(s.events)-1]
	s.events = s.events[:len(s.events)-1]
	s.printf("%s %s\n", req.kind, req.desc)
	if !s.deliver(req) {
		return
	}
	if len(s.events) == 0 || s.events[len(s.events)-1].kind != "fetch-resp" {
		return
	}
	resp := s.events[len(s.events)-1]
	s.events = s.events[:len(s.events)-1]
	if loseResponse {
		s.printf("lost %s %s\n", resp.kind, resp.desc)
		return
	}
	s.printf("%s %s\n", resp.kind, resp.desc)
	s.deliver(resp)
	if sync {
		x.commitRound()
	}
	s.printf("n%d: log end %d, high watermark %d\n", x.id, x.p.LogEndOffset(), x.p.HighWatermark())
}

// deliverQueued delivers the queued messages (of kind, or all), in
// order, with those they cause, until none is left.
func (s *Sim) deliverQueued(kind string) {
	for {
		i := slices.IndexFunc(s.events, func(e *event) bool { return e.kind != "timer" && (kind == "" || e.kind == kind) })
		if i < 0 {
			return
		}
		e := s.events[i]
		s.events = slices.Delete(s.events, i, i+1)
		if e.kind != "image" {
			s.printf("%s %s\n", e.kind, e.desc)
		}
		if !s.deliver(e) {
			s.events = append(s.events, e) // a paused receiver
			return
		}
	}
}

// printState writes the controller's and every node's state.
func (s *Sim) printState(b *strings.Builder) {
	c := s.ctrl
	fmt.Fprintf(b, "controller: leader=%d epoch=%d partition-epoch=%d isr=%v\n", c.leader, c.leaderEpoch, c.partitionEpoch, c.isr)
	for _, n := range s.nodes {
		if !n.up {
			fmt.Fprintf(b, "n%d: down\n", n.id)
			continue
		}
		role := "follower"
		if n.p.IsLeader() {
			role = fmt.Sprintf("leader isr=%v", n.p.InSyncReplicas())
		}
		fmt.Fprintf(b, "n%d: %s epoch=%d hw=%d log=", n.id, role, n.p.LeaderEpoch(), n.p.HighWatermark())
		bs, err := n.logBatches()
		if err != nil {
			fmt.Fprintf(b, "%v\n", err)
			continue
		}
		var parts []string
		for _, x := range bs {
			h, _ := record.ParseHeader(x.b)
			var vals []string
			_ = record.DecodeRecords(h, x.b, func(r *record.Record) error {
				vals = append(vals, string(r.Value))
				return nil
			})
			parts = append(parts, fmt.Sprintf("%d:e%d:%s", x.base, h.PartitionLeaderEpoch, strings.Join(vals, ",")))
		}
		fmt.Fprintf(b, "[%s]\n", strings.Join(parts, " "))
	}
}
