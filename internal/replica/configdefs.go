package replica

import (
	"fmt"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/txn"
)

// ConfigDefs are the settings of the coordinators this node runs, which
// keep typed configs of their own built from the node's properties.
func ConfigDefs() []config.Def {
	var defs []config.Def
	for _, d := range group.ConfigDefs {
		defs = append(defs, config.Def{Name: d[0], Default: d[1], Doc: d[2]})
	}
	for _, d := range txn.ConfigDefs {
		defs = append(defs, config.Def{Name: d[0], Default: d[1], Doc: d[2]})
	}
	return defs
}

// RegisterConfigs tells the config package, before the node's
// configuration is read, what this node knows beyond the node settings:
// the coordinators' settings (ConfigDefs), read from every source like the
// rest, and hints for the dynamic broker configs and topic configs, so that
// a node given one at start is told where it belongs instead of "unknown
// key". The binary calls it where it assembles a node (serve) and where it
// documents the settings.
func RegisterConfigs() {
	config.Register(ConfigDefs()...)
	for _, d := range metadata.BrokerConfigDefs() {
		config.RegisterHint(d.Name, fmt.Sprintf("it is a dynamic broker config, kept in the cluster's metadata: set it with AlterConfigs or IncrementalAlterConfigs on the cluster-wide broker resource (kafka-configs.sh --alter --entity-type brokers --entity-default --add-config %s=VALUE)", d.Name))
	}
	for _, d := range metadata.TopicConfigDefs() {
		if metadata.BrokerConfigDef(d.Name) != nil {
			continue // also a broker config: the hint above
		}
		hint := fmt.Sprintf("it is a topic config: set it per topic (samsa topic create or alter --config %s=VALUE)", d.Name)
		if len(d.Synonyms) > 0 {
			hint += fmt.Sprintf("; the node-wide default is %s", d.Synonyms[0])
		}
		config.RegisterHint(d.Name, hint)
	}
}
