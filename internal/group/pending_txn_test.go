package group

import "testing"

func TestPendingTxnOffsets(t *testing.T) {
	p := NewPendingTxnOffsets()
	p.Add("g", 7, TopicOffsets{"t": {0: {Offset: 5}}})
	p.Add("g", 7, TopicOffsets{"t": {0: {Offset: 9}, 1: {Offset: 3}}}) // later wins
	p.Add("h", 7, TopicOffsets{"t": {0: {Offset: 1}}})
	p.Add("g", 8, TopicOffsets{"u": {2: {Offset: 4}}})
	if !p.PendingFor("g", "t", 1) || p.PendingFor("g", "t", 2) || !p.PendingFor("g", "u", 2) {
		t.Fatal("PendingFor does not reflect what was added")
	}
	got := p.Take(7, func(g string) bool { return g == "g" })
	if len(got) != 1 || got["g"]["t"][0].Offset != 9 || got["g"]["t"][1].Offset != 3 {
		t.Fatalf("take: %+v", got)
	}
	if p.PendingFor("g", "t", 0) || !p.PendingFor("h", "t", 0) || !p.PendingFor("g", "u", 2) {
		t.Fatal("take removed the wrong offsets")
	}
	p.Drop(func(g string) bool { return g == "g" })
	if p.PendingFor("g", "u", 2) || !p.PendingFor("h", "t", 0) {
		t.Fatal("drop removed the wrong offsets")
	}
	unlock := p.LockPartition(3)
	unlock()
	p.LockPartition(3)() // free again
}
