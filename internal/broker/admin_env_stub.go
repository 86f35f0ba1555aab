//go:build !samsa_dataplane

package broker

// Without the data plane there is no metadata store: the admin APIs are not
// registered.
const adminAvailable = false

func (b *Broker) admin() *adminEnv { return &adminEnv{cfg: b.cfg, nodeID: b.cfg.NodeID} }
