package broker

import (
	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/txn"
)

// The coordinators keep typed configs of their own, built from the node's
// properties; registering their names lets operators set them like any other
// setting (flags, SAMSA_* variables, the properties file).
func init() {
	for _, d := range group.ConfigDefs {
		config.Register(config.Def{Name: d[0], Default: d[1], Doc: "Group coordinator setting (see Kafka's documentation of " + d[0] + ")."})
	}
	for _, d := range txn.ConfigDefs {
		config.Register(config.Def{Name: d[0], Default: d[1], Doc: "Transaction coordinator setting (see Kafka's documentation of " + d[0] + ")."})
	}
}
