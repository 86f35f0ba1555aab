package replica

import (
	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/txn"
)

// ConfigDefs are the settings of the coordinators this node runs, which
// keep typed configs of their own built from the node's properties. Where
// the binary assembles a node it registers them (config.Register) before
// reading its configuration, so operators set them like any other setting
// (flags, SAMSA_* variables, the properties file).
func ConfigDefs() []config.Def {
	var defs []config.Def
	for _, d := range group.ConfigDefs {
		defs = append(defs, config.Def{Name: d[0], Default: d[1], Doc: "Group coordinator setting (see Kafka's documentation of " + d[0] + ")."})
	}
	for _, d := range txn.ConfigDefs {
		defs = append(defs, config.Def{Name: d[0], Default: d[1], Doc: "Transaction coordinator setting (see Kafka's documentation of " + d[0] + ")."})
	}
	return defs
}
