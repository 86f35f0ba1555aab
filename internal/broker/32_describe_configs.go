package broker

// DescribeConfigs, versions 0 to 4.
//
// Topic resources (type 2) list every topic config Samsa knows
// (metadata.TopicConfigDefs) with its effective value and where it comes
// from, Kafka's precedence: the topic's own override (DYNAMIC_TOPIC_CONFIG),
// then for each broker synonym in order (retention.ms: log.retention.ms,
// log.retention.minutes, log.retention.hours) a cluster-wide dynamic broker
// value (DYNAMIC_DEFAULT_BROKER_CONFIG), then a value set in the node's
// static config (STATIC_BROKER_CONFIG), then the broker default
// (DEFAULT_CONFIG); a synonym's value is scaled to the topic config's unit.
// IsDefault is true exactly when the source is DEFAULT_CONFIG. Synonyms
// (v1+) are listed when asked for; config types and documentation from v3.
// Sensitive values are null. ConfigNames, when not null, restricts the
// list. An unknown topic gets UNKNOWN_TOPIC_OR_PARTITION, an invalid name
// INVALID_TOPIC_EXCEPTION.
//
// Broker resources (type 4) named after this node's id list the node's
// configs: dynamic-capable ones (metadata.BrokerConfigDefs, read_only false)
// and the node's static ones (read_only true). The empty name is the
// cluster-wide default resource and lists only the dynamic values set
// there. Another node's id gets INVALID_REQUEST. Other resource types
// (broker loggers, groups, client metrics) get INVALID_REQUEST.

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(32, 0, 4, handleDescribeConfigs) }

func handleDescribeConfigs(ctx context.Context, b *Broker, _ *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	return describeConfigs(b, r.(*kmsg.DescribeConfigsRequest)), nil
}

func describeConfigs(env *Broker, req *kmsg.DescribeConfigsRequest) *kmsg.DescribeConfigsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	im := env.meta.Image()
	view := newConfigView(env.cfg, im)
	for _, rr := range req.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var entries []configEntry
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			if err := metadata.ValidateTopicName(rr.ResourceName); err != nil {
				res.ErrorCode, res.ErrorMessage = errCode(err)
				break
			}
			t := im.Topic(rr.ResourceName)
			if t == nil {
				res.ErrorCode = kerr.UnknownTopicOrPartition.Code
				res.ErrorMessage = strPtr(fmt.Sprintf("Topic %s does not exist.", rr.ResourceName))
				break
			}
			entries = view.topicEntries(t.Configs)
		case kmsg.ConfigResourceTypeBroker:
			switch rr.ResourceName {
			case "":
				entries = view.brokerDefaultEntries()
			case strconv.Itoa(int(env.cfg.NodeID)):
				entries = view.brokerEntries()
			default:
				res.ErrorCode = kerr.InvalidRequest.Code
				res.ErrorMessage = strPtr(fmt.Sprintf("Unexpected broker id, expected %d or empty string, but received %s", env.cfg.NodeID, rr.ResourceName))
			}
		default:
			res.ErrorCode = kerr.InvalidRequest.Code
			res.ErrorMessage = strPtr(fmt.Sprintf("Unsupported resource type %s for DescribeConfigs", rr.ResourceType))
		}
		want := map[string]bool{}
		for _, n := range rr.ConfigNames {
			want[n] = true
		}
		for _, e := range entries {
			if rr.ConfigNames != nil && !want[e.name] {
				continue
			}
			res.Configs = append(res.Configs, e.describe(req.IncludeSynonyms, req.IncludeDocumentation))
		}
		resp.Resources = append(resp.Resources, res)
	}
	return resp
}

// configEntry is one config as DescribeConfigs and CreateTopics (v5+)
// report it.
type configEntry struct {
	name      string
	value     *string
	source    kmsg.ConfigSource
	readOnly  bool
	sensitive bool
	typ       metadata.ConfigType
	doc       string
	synonyms  []configSynonym
}

type configSynonym struct {
	name   string
	value  *string
	source kmsg.ConfigSource
}

func (e configEntry) describe(synonyms, docs bool) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name, c.Value, c.ReadOnly, c.IsSensitive = e.name, e.value, e.readOnly, e.sensitive
	c.Source = e.source
	c.IsDefault = e.source == kmsg.ConfigSourceDefaultConfig
	c.ConfigType = kmsg.ConfigType(e.typ)
	if docs && e.doc != "" {
		c.Documentation = strPtr(e.doc)
	}
	if synonyms {
		c.ConfigSynonyms = []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{}
		for _, s := range e.synonyms {
			cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			cs.Name, cs.Value, cs.Source = s.name, s.value, s.source
			c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
		}
	}
	return c
}

// configView describes configs as the one resolver (metadata.ConfigResolver)
// decides them, against one metadata image and the node's static config.
type configView struct {
	r   *metadata.ConfigResolver
	cfg *config.Config
}

func newConfigView(cfg *config.Config, im *metadata.Image) *configView {
	return &configView{r: metadata.NewConfigResolver(cfg, im), cfg: cfg}
}

// synonymsOf lists the broker configs that supply a config's value (see
// metadata.ConfigResolver.Synonyms), with null values when sensitive.
func (v *configView) synonymsOf(names []string, sensitive bool) []configSynonym {
	return describedSynonyms(v.r.Synonyms(names), sensitive)
}

func describedSynonyms(in []metadata.ConfigSynonym, sensitive bool) []configSynonym {
	var out []configSynonym
	for _, s := range in {
		var vp *string
		if !sensitive {
			vp = strPtr(s.Value)
		}
		out = append(out, configSynonym{s.Name, vp, s.Source})
	}
	return out
}

// topicEntries lists every topic config for a topic with these overrides.
func (v *configView) topicEntries(overrides map[string]string) []configEntry {
	defs := metadata.TopicConfigDefs()
	out := make([]configEntry, 0, len(defs))
	for i := range defs {
		out = append(out, v.topicEntry(&defs[i], overrides))
	}
	return out
}

func (v *configView) topicEntry(d *metadata.ConfigDef, overrides map[string]string) configEntry {
	value, hasValue, source, syn := v.r.Topic(d, overrides)
	e := configEntry{name: d.Name, sensitive: d.Sensitive, typ: d.Type, doc: d.Doc, source: source}
	e.synonyms = describedSynonyms(syn, d.Sensitive)
	if hasValue && !d.Sensitive {
		e.value = strPtr(value)
	}
	return e
}

// nodeConfigTypes gives types to the static node configs that have no
// dynamic definition.
var nodeConfigTypes = map[string]metadata.ConfigType{
	"node.id": metadata.TypeInt, "listeners": metadata.TypeString, "advertised.listeners": metadata.TypeString,
	"log.dirs": metadata.TypeString, "log.dir": metadata.TypeString, "metadata.log.dir": metadata.TypeString,
	"num.partitions": metadata.TypeInt, "default.replication.factor": metadata.TypeInt,
	"auto.create.topics.enable": metadata.TypeBoolean, "socket.request.max.bytes": metadata.TypeInt,
	"max.incremental.fetch.session.cache.slots": metadata.TypeInt, "samsa.shutdown.timeout.ms": metadata.TypeLong,
}

// brokerEntries lists this node's configs.
func (v *configView) brokerEntries() []configEntry {
	seen := map[string]bool{}
	var out []configEntry
	for _, d := range metadata.BrokerConfigDefs() {
		seen[d.Name] = true
		out = append(out, v.brokerEntry(d.Name, d.Type, d.Doc, d.Sensitive, false))
	}
	for _, d := range config.Defs {
		if seen[d.Name] {
			continue
		}
		seen[d.Name] = true
		typ, ok := nodeConfigTypes[d.Name]
		if !ok {
			typ = metadata.TypeString
		}
		out = append(out, v.brokerEntry(d.Name, typ, d.Doc, false, true))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (v *configView) brokerEntry(name string, typ metadata.ConfigType, doc string, sensitive, readOnly bool) configEntry {
	e := configEntry{name: name, typ: typ, doc: doc, sensitive: sensitive, readOnly: readOnly, source: kmsg.ConfigSourceDefaultConfig}
	syn := v.synonymsOf(metadata.BrokerSynonymChain(name), sensitive)
	// Kafka drops the synonyms ahead of the config's own first entry.
	for len(syn) > 0 && syn[0].name != name {
		syn = syn[1:]
	}
	e.synonyms = syn
	if len(syn) > 0 {
		e.source = syn[0].source
		e.value = syn[0].value
	}
	return e
}

// brokerDefaultEntries lists the cluster-wide dynamic broker configs.
func (v *configView) brokerDefaultEntries() []configEntry {
	names := make([]string, 0, len(v.r.Dynamic()))
	for n := range v.r.Dynamic() {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]configEntry, 0, len(names))
	for _, n := range names {
		e := configEntry{name: n, typ: metadata.TypeString, source: kmsg.ConfigSourceDynamicDefaultBrokerConfig}
		if d := metadata.BrokerConfigDef(n); d != nil {
			e.typ, e.doc, e.sensitive = d.Type, d.Doc, d.Sensitive
		}
		if !e.sensitive {
			e.value = strPtr(v.r.Dynamic()[n])
		}
		e.synonyms = []configSynonym{{n, e.value, e.source}}
		out = append(out, e)
	}
	return out
}
