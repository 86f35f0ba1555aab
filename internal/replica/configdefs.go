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
// rest; the broker-wide defaults of topic configs (min.insync.replicas,
// compression.type, ...: StaticTopicDefaults), which a node reads at start
// as Kafka's server.properties sets them, below their dynamic values; and
// hints for the other dynamic broker configs and the topic configs, so that
// a node given one at start is told where it belongs instead of "unknown
// key". The binary calls it where it assembles a node (serve) and where it
// documents the settings.
func RegisterConfigs() {
	config.Register(ConfigDefs()...)
	config.Register(StaticTopicDefaults()...)
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

// StaticTopicDefaults are the dynamic broker configs that are the
// broker-wide default of a topic config (its first synonym, such as
// min.insync.replicas or log.message.timestamp.type): a node also reads
// them at start, as the static level of the config resolver, under the
// cluster-wide and per-broker dynamic values, as Kafka does. Their values
// are checked by ValidateStaticTopicDefaults.
func StaticTopicDefaults() []config.Def {
	var defs []config.Def
	for _, d := range metadata.BrokerConfigDefs() {
		if !isTopicDefault(d.Name) {
			continue
		}
		def := config.Def{Name: d.Name, Doc: d.Doc}
		if d.HasDefault {
			def.Default = d.Default
		}
		defs = append(defs, def)
	}
	return defs
}

// isTopicDefault reports whether a broker config is the first synonym of
// a topic config.
func isTopicDefault(name string) bool {
	for _, t := range metadata.TopicConfigDefs() {
		if len(t.Synonyms) > 0 && t.Synonyms[0] == name {
			return true
		}
	}
	return false
}

// ValidateStaticTopicDefaults checks the topic defaults a node was given at
// start with the rules their dynamic values follow.
func ValidateStaticTopicDefaults(cfg *config.Config) error {
	set := map[string]string{}
	for _, d := range StaticTopicDefaults() {
		if v, ok := cfg.Props[d.Name]; ok && v != "" {
			set[d.Name] = v
		}
	}
	if len(set) == 0 {
		return nil
	}
	return metadata.ValidateBrokerConfigs(set)
}
