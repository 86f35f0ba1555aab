package broker

import (
	"fmt"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/txn"
)

// The coordinators keep typed configs of their own, built from the node's
// properties; registering their names lets operators set them like any other
// setting (flags, SAMSA_* variables, the properties file).
//
// The dynamic broker configs and the topic configs that are not start-up
// settings are registered as hints, so that a node given one at start is
// told where it belongs instead of "unknown key".
func init() {
	for _, d := range group.ConfigDefs {
		config.Register(config.Def{Name: d[0], Default: d[1], Doc: d[2]})
	}
	for _, d := range txn.ConfigDefs {
		config.Register(config.Def{Name: d[0], Default: d[1], Doc: d[2]})
	}
	for _, d := range metadata.BrokerConfigDefs() {
		config.RegisterHint(d.Name, dynamicOnlyHint(d.Name))
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

// dynamicOnlyHint is the hint for a dynamic broker config that is not read
// at start.
func dynamicOnlyHint(name string) string {
	return fmt.Sprintf("it is a dynamic broker config, kept in the cluster's metadata: set it with AlterConfigs or IncrementalAlterConfigs on the cluster-wide broker resource (kafka-configs.sh --alter --entity-type brokers --entity-default --add-config %s=VALUE)", name)
}
