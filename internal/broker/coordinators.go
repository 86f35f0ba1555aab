package broker

// The handlers' way to the coordinators: each group or transaction handler
// asks for its coordinator and answers COORDINATOR_NOT_AVAILABLE (clients
// retry) while the replica manager cannot provide one.

import (
	"net"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/twmb/franz-go/pkg/kerr"
)

// groupsOrCode is the handlers' way in: the coordinator, or the error code
// to answer with.
func (b *Broker) groupsOrCode(rc *RequestContext) (*group.Coordinator, int16) {
	c, err := b.replicas.Groups()
	if err != nil {
		if rc != nil && rc.Logger != nil {
			rc.Logger.Warn("group coordinator unavailable", "err", err)
		}
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	return c, 0
}

// clientHost is the client's address as Kafka reports it ("/1.2.3.4").
func clientHost(rc *RequestContext) string {
	host := rc.ClientAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return "/" + host
}

// txnsOrCode is the handlers' way in: the coordinator, or the error code
// to answer with.
func (b *Broker) txnsOrCode(rc *RequestContext) (*txn.Coordinator, int16) {
	c, err := b.replicas.Txns()
	if err != nil {
		if rc != nil && rc.Logger != nil {
			rc.Logger.Warn("transaction coordinator unavailable", "err", err)
		}
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	return c, 0
}
