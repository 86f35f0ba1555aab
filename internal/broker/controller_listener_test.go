package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/controller"
	"github.com/samsa-streaming/samsa/internal/server"
)

// FuzzControllerListener feeds frames to a controller listener, bound to a
// live node's controller (first byte even) or not yet bound (odd): nothing
// may panic; a frame of an API the listener serves gets a response that
// carries its correlation id and decodes as that API's response at the
// request's version, with nothing left over; anything else closes the
// connection (an error).
func FuzzControllerListener(f *testing.F) {
	formatter := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz"))
	seed := func(bound bool, r kmsg.Request, version int16) {
		r.SetVersion(version)
		frame := formatter.AppendRequest(nil, r, 7)[4:]
		f.Add(bound, frame)
	}
	for _, bound := range []bool{true, false} {
		seed(bound, kmsg.NewPtrApiVersionsRequest(), 3)
		hb := kmsg.NewPtrBrokerHeartbeatRequest()
		hb.BrokerID, hb.BrokerEpoch = 1, 1
		seed(bound, hb, 1)
		reg := kmsg.NewPtrBrokerRegistrationRequest()
		reg.BrokerID = 9
		l := kmsg.NewBrokerRegistrationRequestListener()
		l.Name, l.Host, l.Port = "PLAINTEXT", "h", 1
		reg.Listeners = append(reg.Listeners, l)
		seed(bound, reg, 4)
		ct := kmsg.NewPtrCreateTopicsRequest()
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = "fuzz", 2, 1
		ct.Topics = append(ct.Topics, t)
		seed(bound, ct, 7)
		dq := kmsg.NewPtrDescribeQuorumRequest()
		dt := kmsg.NewDescribeQuorumRequestTopic()
		dt.Topic = "__cluster_metadata"
		dt.Partitions = append(dt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
		dq.Topics = append(dq.Topics, dt)
		seed(bound, dq, 2)
		seed(bound, kmsg.NewPtrAllocateProducerIDsRequest(), 0)
	}
	n := startNode(f, map[string]string{"samsa.max.partitions.per.request": "64"})
	bound := &ControllerListener{}
	bound.Bind(n.b.replicas.ControllerAPIs())
	unbound := &ControllerListener{}
	f.Fuzz(func(t *testing.T, isBound bool, frame []byte) {
		req, err := server.ParseRequest(frame)
		if err != nil {
			return
		}
		h := unbound
		if isBound {
			h = bound
		}
		key, version, corr := req.Key, req.Version, req.CorrelationID
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		resp, err := h.Serve(ctx, req)
		max, served := controller.APIs[key]
		if err != nil {
			if served && version <= max && isBound {
				// A frame of a served API fails only when its body does not
				// decode.
				kreq := kmsg.RequestForKey(key)
				kreq.SetVersion(version)
				if kreq.ReadFrom(req.Body) == nil {
					t.Fatalf("%s v%d decodes but the listener failed: %v", kmsg.NameForKey(key), version, err)
				}
			}
			return
		}
		kresp := kmsg.ResponseForKey(key)
		kresp.SetVersion(version)
		if !served || version > max {
			kresp.SetVersion(0) // ApiVersions at an unsupported version
		}
		if resp.CorrelationID != corr {
			t.Fatalf("correlation id %d for %d", resp.CorrelationID, corr)
		}
		var body []byte
		for _, p := range resp.Parts {
			body = append(body, p.Bytes...)
		}
		if err := kresp.ReadFrom(body); err != nil {
			t.Fatalf("%s v%d: response does not decode: %v", kmsg.NameForKey(key), version, err)
		}
		if again := kresp.AppendTo(nil); len(again) != len(body) {
			t.Fatalf("%s v%d: %d bytes re-encode to %d", kmsg.NameForKey(key), version, len(body), len(again))
		}
	})
}
