package config

import (
	"strings"
	"testing"
)

func TestClusterRoles(t *testing.T) {
	base := map[string]string{
		"node.id":                  "2",
		"listeners":                "PLAINTEXT://127.0.0.2:9092,CONTROLLER://127.0.0.2:9093",
		"controller.quorum.voters": "1@127.0.0.1:9093,2@127.0.0.2:9093,3@127.0.0.3:9093",
		"samsa.cluster.id":         "wutjjAMESBCa3rMDarAFDQ",
		"log.dirs":                 "/data",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	cfg, err := Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Clustered() || !cfg.IsBroker() || !cfg.IsController() || len(cfg.ControllerQuorumVoters) != 3 {
		t.Fatalf("combined node: %+v", cfg)
	}
	if v, ok := cfg.Voter(); !ok || v.Addr() != "127.0.0.2:9093" {
		t.Fatalf("voter %v %v", v, ok)
	}
	if l, ok := cfg.AdvertisedBrokerListener(); !ok || l.Addr() != "127.0.0.2:9092" || l.Name != "PLAINTEXT" {
		t.Fatalf("advertised broker listener %v", l)
	}
	if ls := cfg.BrokerListeners(); len(ls) != 1 || ls[0].Name != "PLAINTEXT" {
		t.Fatalf("broker listeners %v", ls)
	}
	// A broker-only node: not a voter, no controller listener.
	if _, err := Parse(with("node.id", "4", "process.roles", "broker", "listeners", "PLAINTEXT://127.0.0.4:9092")); err != nil {
		t.Fatalf("broker-only node: %v", err)
	}
	// A controller-only node.
	if _, err := Parse(with("process.roles", "controller", "listeners", "CONTROLLER://127.0.0.2:9093")); err != nil {
		t.Fatalf("controller-only node: %v", err)
	}
	refused := []struct {
		props map[string]string
		want  string
	}{
		{with("samsa.cluster.id", ""), "samsa.cluster.id is required"},
		{with("node.id", "5"), "not in controller.quorum.voters"},
		{with("process.roles", "broker"), "lacks controller"},
		{with("process.roles", "broker,leader"), `unknown role "leader"`},
		{with("listeners", "PLAINTEXT://127.0.0.2:9092"), "must listen on its controller listener"},
		{with("listeners", "PLAINTEXT://127.0.0.2:9092,CONTROLLER://127.0.0.2:9094"), "disagree on the port"},
		{with("controller.quorum.voters", "1@127.0.0.1:9093,1@127.0.0.2:9093"), "listed twice"},
		{with("controller.quorum.voters", "x@127.0.0.1:9093"), "not a node id"},
		{with("inter.broker.listener.name", "INTERNAL"), "inter.broker.listener.name INTERNAL"},
		{with("broker.heartbeat.interval.ms", "7000"), "must be below broker.session.timeout.ms"},
		{with("controller.quorum.voters", "", "process.roles", "broker"), "needs controller.quorum.voters"},
		{with("listeners", "PLAINTEXT://127.0.0.2:9092,SSL://127.0.0.2:9093"), "neither PLAINTEXT nor one of controller.listener.names"},
	}
	for _, c := range refused {
		_, err := Parse(c.props)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.props, err, c.want)
		}
	}
	// Without voters the controller listener is ignored and the node is a
	// cluster of one, as before.
	one, err := Parse(map[string]string{"log.dirs": "/data"})
	if err != nil || one.Clustered() || !one.IsBroker() || !one.IsController() {
		t.Fatalf("default node: %+v %v", one, err)
	}
}
