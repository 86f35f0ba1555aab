package metadata

import (
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/config"
)

// ConfigResolver is the one place where an effective config value is
// decided, with Kafka's precedence: a topic's own override, then for each
// broker synonym in order (retention.ms: log.retention.ms,
// log.retention.minutes, log.retention.hours) a dynamic value of this
// broker, then a cluster-wide dynamic broker value, then a value set in
// the node's static config, then the broker
// default, a synonym's value scaled to the topic config's unit; then the
// topic config's own default. The replica manager applies what it resolves
// to the logs and DescribeConfigs reports the same, so the applied and the
// described value cannot differ.
type ConfigResolver struct {
	node    map[string]string // this broker's own dynamic configs
	dynamic map[string]string // cluster-wide dynamic broker configs
	static  map[string]string // node configs set explicitly
}

// ConfigSynonym is one broker config that supplies a value, and from where.
type ConfigSynonym struct {
	Name   string
	Value  string
	Source kmsg.ConfigSource
}

// NewConfigResolver resolves against the node's static config and the
// dynamic broker configs of im.
func NewConfigResolver(cfg *config.Config, im *Image) *ConfigResolver {
	r := &ConfigResolver{dynamic: map[string]string{}, static: StaticConfigs(cfg)}
	if im != nil && im.BrokerConfigs != nil {
		r.dynamic = im.BrokerConfigs
	}
	if im != nil && cfg != nil {
		r.node = im.NodeConfigs[cfg.NodeID]
	}
	return r
}

// Dynamic are the cluster-wide dynamic broker configs (not to be changed).
func (r *ConfigResolver) Dynamic() map[string]string { return r.dynamic }

// Node are this broker's own dynamic configs (not to be changed).
func (r *ConfigResolver) Node() map[string]string { return r.node }

// StaticConfigs are the node configs set to something other than their
// default (flags, environment or file).
func StaticConfigs(cfg *config.Config) map[string]string {
	out := map[string]string{}
	if cfg == nil {
		return out
	}
	for _, d := range config.Defs {
		if v, ok := cfg.Props[d.Name]; ok && v != "" && v != d.Default {
			out[d.Name] = v
		}
	}
	return out
}

// BrokerDefault is the default of a broker config: the dynamic-config
// table's, else the node config table's.
func BrokerDefault(name string) (string, bool) {
	if d := BrokerConfigDef(name); d != nil {
		return d.Default, d.HasDefault
	}
	for _, d := range config.Defs {
		if d.Name == name {
			return d.Default, d.Default != ""
		}
	}
	return "", false
}

// Synonyms lists the broker configs that supply a value among names, by
// source (this broker's dynamic, cluster-wide dynamic, static, default) and
// within a source by the order of names, as Kafka orders them.
func (r *ConfigResolver) Synonyms(names []string) []ConfigSynonym {
	var out []ConfigSynonym
	for _, n := range names {
		if x, ok := r.node[n]; ok {
			out = append(out, ConfigSynonym{n, x, kmsg.ConfigSourceDynamicBrokerConfig})
		}
	}
	for _, n := range names {
		if x, ok := r.dynamic[n]; ok {
			out = append(out, ConfigSynonym{n, x, kmsg.ConfigSourceDynamicDefaultBrokerConfig})
		}
	}
	for _, n := range names {
		if x, ok := r.static[n]; ok {
			out = append(out, ConfigSynonym{n, x, kmsg.ConfigSourceStaticBrokerConfig})
		}
	}
	for _, n := range names {
		if x, ok := BrokerDefault(n); ok {
			out = append(out, ConfigSynonym{n, x, kmsg.ConfigSourceDefaultConfig})
		}
	}
	return out
}

// Topic resolves topic config d for a topic with these overrides: its
// value (ok false for a null default), where it comes from, and the
// synonyms behind it, the override first.
func (r *ConfigResolver) Topic(d *ConfigDef, overrides map[string]string) (value string, ok bool, source kmsg.ConfigSource, synonyms []ConfigSynonym) {
	synonyms = r.Synonyms(d.Synonyms)
	value, ok, source = d.Default, d.HasDefault, kmsg.ConfigSourceDefaultConfig
	if x, set := overrides[d.Name]; set {
		synonyms = append([]ConfigSynonym{{d.Name, x, kmsg.ConfigSourceDynamicTopicConfig}}, synonyms...)
		return x, true, kmsg.ConfigSourceDynamicTopicConfig, synonyms
	}
	if len(synonyms) > 0 {
		value, ok, source = ScaleSynonym(d, synonyms[0].Name, synonyms[0].Value), true, synonyms[0].Source
	}
	return value, ok, source, synonyms
}

// TopicValue is the effective value of the topic config named name (ok
// false when it is unknown or its default is null).
func (r *ConfigResolver) TopicValue(name string, overrides map[string]string) (string, bool) {
	d := TopicConfigDef(name)
	if d == nil {
		return "", false
	}
	v, ok, _, _ := r.Topic(d, overrides)
	return v, ok
}

// ScaleSynonym converts a broker synonym's value to the topic config's unit
// (log.retention.hours 1 → retention.ms 3600000).
func ScaleSynonym(d *ConfigDef, synonym, value string) string {
	for i, s := range d.Synonyms {
		if s != synonym {
			continue
		}
		scale := d.SynonymScale(i)
		if scale == 1 {
			return value
		}
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return value
		}
		if n < 0 {
			return "-1" // "forever" in any unit, as Kafka reads log.retention.hours=-1
		}
		if n > (1<<63-1)/scale {
			return strconv.FormatInt(1<<63-1, 10)
		}
		return strconv.FormatInt(n*scale, 10)
	}
	return value
}

// BrokerSynonymChain returns the broker configs that stand for the same
// setting as name, from name down in precedence (log.retention.ms →
// log.retention.ms, log.retention.minutes, log.retention.hours).
func BrokerSynonymChain(name string) []string {
	for _, td := range TopicConfigDefs() {
		for i, s := range td.Synonyms {
			if s == name {
				return td.Synonyms[i:]
			}
		}
	}
	return []string{name}
}
