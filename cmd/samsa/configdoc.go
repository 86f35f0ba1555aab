package main

//go:generate go run . config docs -o ../../docs/configuration.md

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"strings"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/replica"
	"github.com/samsa-streaming/samsa/internal/txn"
)

// configDocTemplate is docs/configuration.md around its tables.
//
//go:embed configdoc.md.tmpl
var configDocTemplate string

// notApplied are the topic configs Samsa accepts, stores and describes, so
// that Kafka's tools and clients can set them, but does not act on (the
// configs replica's settingsFor reads are the applied ones), with why.
var notApplied = map[string]string{
	"compression.type":                        "batches are stored as the producer compressed them, whatever the value",
	"compression.gzip.level":                  "Samsa does not recompress",
	"compression.lz4.level":                   "Samsa does not recompress",
	"compression.zstd.level":                  "Samsa does not recompress",
	"file.delete.delay.ms":                    "segments are removed as soon as they are deleted",
	"follower.replication.throttled.replicas": "no replication throttles yet",
	"leader.replication.throttled.replicas":   "no replication throttles yet",
	"local.retention.bytes":                   "no tiered storage",
	"local.retention.ms":                      "no tiered storage",
	"remote.log.copy.disable":                 "no tiered storage",
	"remote.log.delete.on.disable":            "no tiered storage",
	"remote.storage.enable":                   "no tiered storage",
	"preallocate":                             "segment files are not preallocated",
	"segment.jitter.ms":                       "segments roll at segment.ms without jitter",
	"unclean.leader.election.enable":          "leaders are elected from the in-sync replicas only; electing another would lose acknowledged records (docs/replication.md)",
}

// appliedWith qualifies topic configs that Samsa applies only in some
// setups.
var appliedWith = map[string]string{
	"flush.messages": "with samsa.log.durability=pagecache (sync fsyncs before every acknowledgement)",
	"flush.ms":       "with samsa.log.durability=pagecache, checked every second (sync fsyncs before every acknowledgement)",
}

// applied is the Applied cell of a topic config.
func applied(topic string) string {
	if why, ok := notApplied[topic]; ok {
		return "no: " + why
	}
	if with, ok := appliedWith[topic]; ok {
		return "yes, " + with
	}
	return "yes"
}

// newConfigCmd is `samsa config docs`, hidden: it writes the configuration
// reference (docs/configuration.md) from the config tables.
func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:    "config",
		Short:  "Configuration reference",
		Hidden: true,
		Args:   cobra.NoArgs,
	}
	var out string
	docs := &cobra.Command{
		Use:   "docs",
		Short: "Write the configuration reference (docs/configuration.md) from the config tables",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			doc, err := configReference()
			if err != nil {
				return err
			}
			if out == "" {
				_, err = cmd.OutOrStdout().Write(doc)
				return err
			}
			return os.WriteFile(out, doc, 0o644)
		},
	}
	docs.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	cmd.AddCommand(docs)
	return cmd
}

// configReference renders docs/configuration.md.
func configReference() ([]byte, error) {
	replica.RegisterConfigs()
	tmpl, err := template.New("configuration.md").Parse(configDocTemplate)
	if err != nil {
		return nil, err
	}
	inGroup, inTxn := map[string]bool{}, map[string]bool{}
	for _, d := range group.ConfigDefs {
		inGroup[d[0]] = true
	}
	for _, d := range txn.ConfigDefs {
		inTxn[d[0]] = true
	}
	var node, groups, txns []config.Def
	for _, d := range config.Defs {
		switch {
		case inGroup[d.Name]:
			groups = append(groups, d)
		case inTxn[d.Name]:
			txns = append(txns, d)
		default:
			node = append(node, d)
		}
	}
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, map[string]any{
		"EnvRule":          config.EnvRule,
		"NonConfigEnv":     strings.Join(config.NonConfigEnv, ", "),
		"NodeTable":        startupTable(node),
		"GroupTable":       startupTable(groups),
		"TxnTable":         startupTable(txns),
		"DynamicTable":     dynamicTable(),
		"TopicTable":       topicTable(),
		"StartupCount":     len(config.Defs),
		"DynamicCount":     len(metadata.BrokerConfigDefs()),
		"TopicCount":       len(metadata.TopicConfigDefs()),
		"NotAppliedTopics": len(notApplied),
	})
	return buf.Bytes(), err
}

// synonymChain is the group of keys that set the same setting as key,
// highest precedence first, or nil: the node's own groups, then the
// broker synonyms of the topic configs.
func synonymChain(key string) []string {
	for _, g := range config.Synonyms {
		for _, k := range g {
			if k == key {
				return g
			}
		}
	}
	for _, d := range metadata.TopicConfigDefs() {
		if len(d.Synonyms) < 2 {
			continue
		}
		for _, k := range d.Synonyms {
			if k == key {
				return d.Synonyms
			}
		}
	}
	return nil
}

// topicOf is the topic config whose node-wide default key is, or "".
func topicOf(key string) string {
	for _, d := range metadata.TopicConfigDefs() {
		for _, k := range d.Synonyms {
			if k == key {
				return d.Name
			}
		}
	}
	return ""
}

// unit says what a numeric key counts, from its name.
func unit(key string) string {
	switch key {
	case "num.partitions", "offsets.topic.num.partitions", "transaction.state.log.num.partitions", "samsa.max.partitions.per.request":
		return "partitions"
	case "max.broker.partitions":
		return "partition replicas"
	case "default.replication.factor", "min.insync.replicas":
		return "replicas"
	case "group.max.size", "group.consumer.max.size":
		return "members"
	case "max.incremental.fetch.session.cache.slots":
		return "sessions"
	case "node.id", "samsa.transaction.version":
		return ""
	}
	for suffix, u := range map[string]string{".ms": "ms", ".minutes": "minutes", ".hours": "hours", ".bytes": "bytes", ".messages": "messages", ".ratio": "ratio", ".level": "level"} {
		if strings.HasSuffix(key, suffix) {
			return u
		}
	}
	return ""
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

func codeList(keys []string) string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = code(k)
	}
	return strings.Join(out, ", ")
}

// cell escapes what would break a table cell or read as HTML.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

type table struct {
	head []string
	rows [][]string
}

func (t *table) String() string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(t.head, " | ") + " |\n|")
	for range t.head {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

// startupTable lists start-up settings: key with its variable and flag,
// default, unit, whether it can also change while running, synonyms and
// the description.
func startupTable(defs []config.Def) string {
	flags := map[string]bool{}
	for _, k := range serveShortcuts {
		flags[k] = true
	}
	t := &table{head: []string{"Key", "Default", "Unit", "Changed", "Synonyms (first set wins)", "Description"}}
	for _, d := range defs {
		key := code(d.Name) + "<br>" + code(config.EnvName(d.Name))
		if flags[d.Name] {
			key += "<br>" + code("--"+flagName(d.Name))
		}
		def := code(d.Default)
		if def == "" {
			def = "unset"
		}
		changed := "at start"
		if metadata.BrokerConfigDef(d.Name) != nil {
			changed = "at start; also dynamic"
		}
		var syn string
		if chain := synonymChain(d.Name); chain != nil {
			syn = codeList(chain)
		}
		t.rows = append(t.rows, []string{key, def, unit(d.Name), changed, syn, cell(d.Doc)})
	}
	return t.String()
}

// dynamicTable lists the dynamic broker configs.
func dynamicTable() string {
	t := &table{head: []string{"Key", "Default", "Unit", "Read at start", "Default of topic config", "Synonyms (first set wins)", "Applied", "Description"}}
	for _, d := range metadata.BrokerConfigDefs() {
		def := "null"
		if d.HasDefault {
			def = code(d.Default)
			if d.Default == "" {
				def = "empty"
			}
		}
		atStart := "no"
		for _, sd := range config.Defs {
			if sd.Name == d.Name {
				atStart = "yes"
			}
		}
		topic := topicOf(d.Name)
		var syn string
		if chain := synonymChain(d.Name); chain != nil {
			syn = codeList(chain)
		}
		t.rows = append(t.rows, []string{code(d.Name), def, unit(d.Name), atStart, code(topic), syn, applied(topic), cell(d.Doc)})
	}
	return t.String()
}

// topicTable lists the topic configs.
func topicTable() string {
	t := &table{head: []string{"Key", "Default", "Type", "Valid values", "Node-wide default from", "Applied", "Description"}}
	for _, d := range metadata.TopicConfigDefs() {
		def := code(d.Default)
		if d.Default == "" {
			def = "empty"
		}
		valid := cell(d.ValidValues)
		if valid != "" {
			valid = "`" + valid + "`"
		}
		t.rows = append(t.rows, []string{code(d.Name), def, strings.ToLower(d.Type.String()), valid, codeList(d.Synonyms), applied(d.Name), cell(d.Doc)})
	}
	return t.String()
}

// checkNotApplied reports names in notApplied or appliedWith that are not
// topic configs.
func checkNotApplied() error {
	for _, m := range []map[string]string{notApplied, appliedWith} {
		for name := range m {
			if metadata.TopicConfigDef(name) == nil {
				return fmt.Errorf("%s is not a topic config", name)
			}
		}
	}
	return nil
}
