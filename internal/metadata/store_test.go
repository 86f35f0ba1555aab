package metadata

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTestStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(Config{NodeID: 1, Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustRegister(t *testing.T, s *Store, ids ...int32) {
	t.Helper()
	for _, id := range ids {
		if err := s.RegisterBroker(ctx(t), Broker{ID: id, Host: "127.0.0.1", Port: 9092 + id}); err != nil {
			t.Fatalf("RegisterBroker(%d): %v", id, err)
		}
	}
}

func wantCode(t *testing.T, err error, code *kerr.Error) {
	t.Helper()
	if !errors.Is(err, code) {
		t.Fatalf("error = %v, want %s", err, code.Message)
	}
}

func TestOpenCreateDelete(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	im := s.Image()
	if im.ControllerID != 1 || im.ClusterID == "" {
		t.Fatalf("image after open: controller %d cluster %q", im.ControllerID, im.ClusterID)
	}
	mustRegister(t, s, 1)
	tp, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "orders", NumPartitions: 3, ReplicationFactor: 1,
		Configs: map[string]string{"retention.ms": "1000"}})
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	im = s.Image()
	got := im.Topics["orders"]
	if got == nil || got != im.TopicsByID[tp.ID] || len(got.Partitions) != 3 || got.Configs["retention.ms"] != "1000" {
		t.Fatalf("topic in image = %+v", got)
	}
	for i, p := range got.Partitions {
		if p.ID != int32(i) || p.Leader != 1 || len(p.Replicas) != 1 || len(p.ISR) != 1 {
			t.Fatalf("partition %d = %+v", i, p)
		}
	}
	_, err = s.CreateTopic(ctx(t), CreateTopicRequest{Name: "orders", NumPartitions: 1, ReplicationFactor: 1})
	wantCode(t, err, kerr.TopicAlreadyExists)

	if err := s.DeleteTopic(ctx(t), tp.ID); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	if s.Image().Topics["orders"] != nil || s.Image().TopicsByID[tp.ID] != nil {
		t.Fatal("topic still in image after delete")
	}
	wantCode(t, s.DeleteTopic(ctx(t), tp.ID), kerr.UnknownTopicID)
}
