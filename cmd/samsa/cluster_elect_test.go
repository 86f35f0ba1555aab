package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestClusterElectLeaders runs elect-leaders against the test broker,
// whose partitions are all led by their preferred (only) replica.
func TestClusterElectLeaders(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	ok(t, addr, "", "topic", "create", name, "--partitions", "2")
	r := ok(t, addr, "", "cluster", "elect-leaders", "--topic", name)
	want := name + "-0: no election needed: its preferred leader leads it\n" + name + "-1: no election needed: its preferred leader leads it\n"
	if r.stdout != want {
		t.Fatalf("elect-leaders --topic:\n%s\nwant\n%s", r.stdout, want)
	}
	r = ok(t, addr, "", "cluster", "elect-leaders", "--topic", name, "--partition", "1", "--type", "unclean")
	if r.stdout != name+"-1: no election needed: it has a leader\n" {
		t.Fatalf("unclean election of a partition with a leader:\n%s", r.stdout)
	}
	var results []electResult
	decodeOut(t, ok(t, addr, "", "cluster", "elect-leaders", "--topic", name, "-p", "0", "--format", "json"), "json", &results)
	if len(results) != 1 || results[0].Result != "not_needed" || results[0].Error == nil || *results[0].Error != "ELECTION_NOT_NEEDED" || results[0].Message == nil {
		t.Fatalf("json: %+v", results)
	}
	fails(t, addr, "", name+"-7 does not exist", "cluster", "elect-leaders", "--topic", name, "--partition", "7")
	fails(t, addr, "", `topic "`+name+`-nope" does not exist`, "cluster", "elect-leaders", "--topic", name+"-nope")
	ok(t, addr, "", "cluster", "elect-leaders")
}

// TestElectResultsText: what elect-leaders prints and which partitions
// make it fail, for every answer a partition can get.
func TestElectResultsText(t *testing.T) {
	resp := kmsg.NewPtrElectLeadersResponse()
	rt := kmsg.NewElectLeadersResponseTopic()
	rt.Topic = "orders"
	for i, code := range []int16{0, kerr.ElectionNotNeeded.Code, kerr.PreferredLeaderNotAvailable.Code, kerr.EligibleLeadersNotAvailable.Code, kerr.UnknownTopicOrPartition.Code, kerr.RequestTimedOut.Code} {
		p := kmsg.NewElectLeadersResponseTopicPartition()
		p.Partition, p.ErrorCode = int32(i), code
		rt.Partitions = append(rt.Partitions, p)
	}
	resp.Topics = append(resp.Topics, rt)
	results, errs := electResults(resp, 0)
	var out bytes.Buffer
	if err := writeElectResults(&out, results, 0, false); err != nil {
		t.Fatal(err)
	}
	want := `orders-0: elected its preferred leader
orders-1: no election needed: its preferred leader leads it
orders-2: not elected (PREFERRED_LEADER_NOT_AVAILABLE)
orders-3: not elected (ELIGIBLE_LEADERS_NOT_AVAILABLE)
orders-4: not elected (UNKNOWN_TOPIC_OR_PARTITION)
orders-5: not elected (REQUEST_TIMED_OUT)
`
	if out.String() != want {
		t.Fatalf("text:\n%s\nwant\n%s", out.String(), want)
	}
	msg := joinSentences(errs).Error()
	for _, s := range []string{
		"orders-2: its preferred leader cannot lead now: it is not in the ISR",
		"orders-3: no in-sync replica is live to lead it, and Samsa does not elect a replica outside the ISR",
		"orders-4 does not exist",
		"orders-5: the preferred election failed",
	} {
		if !strings.Contains(msg, s) {
			t.Errorf("errors %q do not say %q", msg, s)
		}
	}
	if len(errs) != 4 || !errors.Is(errs[0], kerr.PreferredLeaderNotAvailable) {
		t.Fatalf("errors: %v", errs)
	}

	out.Reset()
	if err := writeElectResults(&out, nil, 0, true); err != nil || out.String() != "No partition needed a leader election.\n" {
		t.Fatalf("every partition, none elected: %q, %v", out.String(), err)
	}
}
