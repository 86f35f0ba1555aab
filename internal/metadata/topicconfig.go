package metadata

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ConfigType is a config's type, with the codes DescribeConfigs uses
// (DescribeConfigsResponse ConfigType, KIP-569).
type ConfigType int8

const (
	TypeUnknown  ConfigType = 0
	TypeBoolean  ConfigType = 1
	TypeString   ConfigType = 2
	TypeInt      ConfigType = 3
	TypeShort    ConfigType = 4
	TypeLong     ConfigType = 5
	TypeDouble   ConfigType = 6
	TypeList     ConfigType = 7
	TypeClass    ConfigType = 8
	TypePassword ConfigType = 9
)

func (t ConfigType) String() string {
	switch t {
	case TypeBoolean:
		return "BOOLEAN"
	case TypeString:
		return "STRING"
	case TypeInt:
		return "INT"
	case TypeShort:
		return "SHORT"
	case TypeLong:
		return "LONG"
	case TypeDouble:
		return "DOUBLE"
	case TypeList:
		return "LIST"
	case TypeClass:
		return "CLASS"
	case TypePassword:
		return "PASSWORD"
	}
	return "UNKNOWN"
}

// ConfigDef describes one config: Kafka's name, type, default and valid
// values (Kafka 4.x's LogConfig, ServerLogConfigs and
// ServerTopicConfigSynonyms).
type ConfigDef struct {
	Name string
	Type ConfigType
	// Default is Kafka's default as DescribeConfigs shows it. HasDefault is
	// false for configs whose default is null.
	Default    string
	HasDefault bool
	Doc        string
	Sensitive  bool
	// Synonyms are the broker configs that supply this topic config's
	// default, highest precedence first (retention.ms: log.retention.ms,
	// log.retention.minutes, log.retention.hours). Empty for broker
	// configs and topic configs without a broker default.
	Synonyms []string
	// ValidValues is Kafka's "Valid Values" column: "[0,...]",
	// "[CreateTime, LogAppendTime]", "" when anything of the type goes.
	ValidValues string

	min, max     *float64 // inclusive bounds for INT, LONG and DOUBLE
	in           []string // allowed values of a STRING, or of each LIST item
	extra        func(v string) error
	synonymScale []int64 // per synonym: multiply its value by this to get ours (1 if nil)
}

// SynonymScale returns the factor that converts synonym i's value to this
// config's unit (log.retention.hours → retention.ms is 3,600,000).
func (d *ConfigDef) SynonymScale(i int) int64 {
	if i < 0 || i >= len(d.synonymScale) || d.synonymScale[i] == 0 {
		return 1
	}
	return d.synonymScale[i]
}

func ptr(f float64) *float64 { return &f }

const (
	maxLong = "9223372036854775807"
	hourMs  = 3600 * 1000
	minMs   = 60 * 1000
)

// topicConfigDefs is Kafka 4.x's topic config table, sorted by name.
var topicConfigDefs = []ConfigDef{
	{Name: "cleanup.policy", Type: TypeList, Default: "delete", Synonyms: []string{"log.cleanup.policy"},
		in:  []string{"compact", "delete"},
		Doc: "The retention policy to use on log segments: \"delete\" discards old segments when their retention time or size limit is reached; \"compact\" enables log compaction, keeping the latest value for each key. Both may be given as a comma-separated list."},
	{Name: "compression.gzip.level", Type: TypeInt, Default: "-1", Synonyms: []string{"compression.gzip.level"},
		ValidValues: "[1,...,9] or -1", extra: gzipLevel,
		Doc: "The compression level to use if compression.type is set to gzip."},
	{Name: "compression.lz4.level", Type: TypeInt, Default: "9", Synonyms: []string{"compression.lz4.level"},
		min: ptr(1), max: ptr(17),
		Doc: "The compression level to use if compression.type is set to lz4."},
	{Name: "compression.type", Type: TypeString, Default: "producer", Synonyms: []string{"compression.type"},
		in:  []string{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"},
		Doc: "The final compression type for a given topic: a standard codec (gzip, snappy, lz4, zstd), uncompressed, or producer to retain the codec set by the producer."},
	{Name: "compression.zstd.level", Type: TypeInt, Default: "3", Synonyms: []string{"compression.zstd.level"},
		min: ptr(-131072), max: ptr(22),
		Doc: "The compression level to use if compression.type is set to zstd."},
	{Name: "delete.retention.ms", Type: TypeLong, Default: "86400000", Synonyms: []string{"log.cleaner.delete.retention.ms"},
		min: ptr(0),
		Doc: "The amount of time to retain tombstone markers for log compacted topics."},
	{Name: "file.delete.delay.ms", Type: TypeLong, Default: "60000", Synonyms: []string{"log.segment.delete.delay.ms"},
		min: ptr(0),
		Doc: "The time to wait before deleting a file from the filesystem."},
	{Name: "flush.messages", Type: TypeLong, Default: maxLong, Synonyms: []string{"log.flush.interval.messages"},
		min: ptr(1),
		Doc: "The number of messages written to a partition after which its log is fsynced."},
	{Name: "flush.ms", Type: TypeLong, Default: maxLong, Synonyms: []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"},
		min: ptr(0),
		Doc: "The time interval after which a partition's log is fsynced."},
	{Name: "follower.replication.throttled.replicas", Type: TypeList, Default: "",
		ValidValues: "[partitionId]:[brokerId],[partitionId]:[brokerId],...", extra: throttledReplicas,
		Doc: "A list of replicas for which log replication should be throttled on the follower side, or the wildcard '*'."},
	{Name: "index.interval.bytes", Type: TypeInt, Default: "4096", Synonyms: []string{"log.index.interval.bytes"},
		min: ptr(0),
		Doc: "How frequently Kafka adds an index entry to its offset index."},
	{Name: "leader.replication.throttled.replicas", Type: TypeList, Default: "",
		ValidValues: "[partitionId]:[brokerId],[partitionId]:[brokerId],...", extra: throttledReplicas,
		Doc: "A list of replicas for which log replication should be throttled on the leader side, or the wildcard '*'."},
	{Name: "local.retention.bytes", Type: TypeLong, Default: "-2", Synonyms: []string{"log.local.retention.bytes"},
		min: ptr(-2),
		Doc: "The maximum size local log segments can grow to before they become eligible for deletion with tiered storage; -2 means retention.bytes."},
	{Name: "local.retention.ms", Type: TypeLong, Default: "-2", Synonyms: []string{"log.local.retention.ms"},
		min: ptr(-2),
		Doc: "The time to retain a local log segment before it becomes eligible for deletion with tiered storage; -2 means retention.ms."},
	{Name: "max.compaction.lag.ms", Type: TypeLong, Default: maxLong, Synonyms: []string{"log.cleaner.max.compaction.lag.ms"},
		min: ptr(1),
		Doc: "The maximum time a message will remain ineligible for compaction in the log."},
	{Name: "max.message.bytes", Type: TypeInt, Default: "1048588", Synonyms: []string{"message.max.bytes"},
		min: ptr(0),
		Doc: "The largest record batch size allowed by Kafka (after compression if compression is enabled)."},
	{Name: "message.timestamp.after.max.ms", Type: TypeLong, Default: "3600000", Synonyms: []string{"log.message.timestamp.after.max.ms"},
		min: ptr(0),
		Doc: "The maximum difference allowed between a later message timestamp and the broker's timestamp, with message.timestamp.type=CreateTime."},
	{Name: "message.timestamp.before.max.ms", Type: TypeLong, Default: maxLong, Synonyms: []string{"log.message.timestamp.before.max.ms"},
		min: ptr(0),
		Doc: "The maximum difference allowed between an earlier message timestamp and the broker's timestamp, with message.timestamp.type=CreateTime."},
	{Name: "message.timestamp.type", Type: TypeString, Default: "CreateTime", Synonyms: []string{"log.message.timestamp.type"},
		in:  []string{"CreateTime", "LogAppendTime"},
		Doc: "Whether the timestamp in the message is the message create time or the log append time."},
	{Name: "min.cleanable.dirty.ratio", Type: TypeDouble, Default: "0.5", Synonyms: []string{"log.cleaner.min.cleanable.ratio"},
		min: ptr(0), max: ptr(1),
		Doc: "The minimum ratio of dirty log to total log for a log to be eligible for cleaning."},
	{Name: "min.compaction.lag.ms", Type: TypeLong, Default: "0", Synonyms: []string{"log.cleaner.min.compaction.lag.ms"},
		min: ptr(0),
		Doc: "The minimum time a message will remain uncompacted in the log."},
	{Name: "min.insync.replicas", Type: TypeInt, Default: "1", Synonyms: []string{"min.insync.replicas"},
		min: ptr(1),
		Doc: "When a producer sets acks to \"all\", the minimum number of replicas that must acknowledge a write for it to succeed."},
	{Name: "preallocate", Type: TypeBoolean, Default: "false", Synonyms: []string{"log.preallocate"},
		Doc: "True if we should preallocate the file on disk when creating a new log segment."},
	{Name: "remote.log.copy.disable", Type: TypeBoolean, Default: "false",
		Doc: "Determines whether tiered data for a topic should become read only, with no more data uploaded."},
	{Name: "remote.log.delete.on.disable", Type: TypeBoolean, Default: "false",
		Doc: "Determines whether tiered data for a topic should be deleted after tiered storage is disabled on it."},
	{Name: "remote.storage.enable", Type: TypeBoolean, Default: "false",
		Doc: "To enable tiered storage for a topic, set this configuration to true."},
	{Name: "retention.bytes", Type: TypeLong, Default: "-1", Synonyms: []string{"log.retention.bytes"},
		Doc: "The maximum size a partition can grow to before old log segments are discarded (with the delete policy); -1 means no size limit."},
	{Name: "retention.ms", Type: TypeLong, Default: "604800000", Synonyms: []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
		synonymScale: []int64{1, minMs, hourMs}, min: ptr(-1),
		Doc: "The maximum time a log segment is retained before it is discarded (with the delete policy); -1 means no time limit."},
	{Name: "segment.bytes", Type: TypeInt, Default: "1073741824", Synonyms: []string{"log.segment.bytes"},
		min: ptr(1024 * 1024),
		Doc: "The segment file size for the log."},
	{Name: "segment.index.bytes", Type: TypeInt, Default: "10485760", Synonyms: []string{"log.index.size.max.bytes"},
		min: ptr(4),
		Doc: "The size of the index that maps offsets to file positions."},
	{Name: "segment.jitter.ms", Type: TypeLong, Default: "0", Synonyms: []string{"log.roll.jitter.ms", "log.roll.jitter.hours"},
		synonymScale: []int64{1, hourMs}, min: ptr(0),
		Doc: "The maximum random jitter subtracted from the scheduled segment roll time."},
	{Name: "segment.ms", Type: TypeLong, Default: "604800000", Synonyms: []string{"log.roll.ms", "log.roll.hours"},
		synonymScale: []int64{1, hourMs}, min: ptr(1),
		Doc: "The period of time after which Kafka will force the log to roll even if the segment file isn't full."},
	{Name: "unclean.leader.election.enable", Type: TypeBoolean, Default: "false", Synonyms: []string{"unclean.leader.election.enable"},
		Doc: "Whether to enable replicas not in the ISR to be elected as leader as a last resort, even though doing so may result in data loss."},
}

// brokerOnlyConfigDefs are dynamic broker configs that are not the first
// synonym of a topic config.
var brokerOnlyConfigDefs = []ConfigDef{
	{Name: "log.retention.minutes", Type: TypeInt, Doc: "The number of minutes to keep a log file before deleting it, secondary to log.retention.ms."},
	{Name: "log.retention.hours", Type: TypeInt, Default: "168", HasDefault: true, Doc: "The number of hours to keep a log file before deleting it, tertiary to log.retention.ms."},
	{Name: "log.roll.hours", Type: TypeInt, Default: "168", HasDefault: true, min: ptr(1), Doc: "The maximum time before a new log segment is rolled out (in hours), secondary to log.roll.ms."},
	{Name: "log.roll.jitter.hours", Type: TypeInt, Default: "0", HasDefault: true, min: ptr(0), Doc: "The maximum jitter to subtract from the roll time (in hours), secondary to log.roll.jitter.ms."},
	{Name: "log.flush.scheduler.interval.ms", Type: TypeLong, Default: maxLong, HasDefault: true, Doc: "The frequency in ms that the log flusher checks whether any log needs to be flushed to disk."},
}

// brokerNullDefault are broker synonyms whose Kafka default is null (the
// next synonym or the topic default applies).
var brokerNullDefault = map[string]bool{
	"log.retention.ms": true, "log.roll.ms": true, "log.roll.jitter.ms": true, "log.flush.interval.ms": true,
}

var (
	topicConfigIndex  map[string]*ConfigDef
	brokerConfigDefs  []ConfigDef
	brokerConfigIndex map[string]*ConfigDef
)

func init() {
	topicConfigIndex = make(map[string]*ConfigDef, len(topicConfigDefs))
	for i := range topicConfigDefs {
		d := &topicConfigDefs[i]
		d.HasDefault = true
		if d.ValidValues == "" {
			d.ValidValues = describeValid(d)
		}
		topicConfigIndex[d.Name] = d
	}
	// The broker table: each topic config's first synonym with the topic
	// config's type and range, plus the broker-only configs.
	seen := map[string]bool{}
	for _, td := range topicConfigDefs {
		if len(td.Synonyms) == 0 || seen[td.Synonyms[0]] {
			continue
		}
		bd := td
		bd.Name = td.Synonyms[0]
		bd.Synonyms = nil
		bd.synonymScale = nil
		if brokerNullDefault[bd.Name] {
			bd.Default, bd.HasDefault = "", false
		}
		seen[bd.Name] = true
		brokerConfigDefs = append(brokerConfigDefs, bd)
	}
	for _, bd := range brokerOnlyConfigDefs {
		if bd.ValidValues == "" {
			bd.ValidValues = describeValid(&bd)
		}
		brokerConfigDefs = append(brokerConfigDefs, bd)
	}
	sort.Slice(brokerConfigDefs, func(i, j int) bool { return brokerConfigDefs[i].Name < brokerConfigDefs[j].Name })
	brokerConfigIndex = make(map[string]*ConfigDef, len(brokerConfigDefs))
	for i := range brokerConfigDefs {
		brokerConfigIndex[brokerConfigDefs[i].Name] = &brokerConfigDefs[i]
	}
}

func describeValid(d *ConfigDef) string {
	switch {
	case len(d.in) > 0:
		return "[" + strings.Join(d.in, ", ") + "]"
	case d.min != nil && d.max != nil:
		return fmt.Sprintf("[%s,...,%s]", fmtNum(*d.min), fmtNum(*d.max))
	case d.min != nil:
		return fmt.Sprintf("[%s,...]", fmtNum(*d.min))
	}
	return ""
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// TopicConfigDefs returns every topic config Samsa knows, sorted by name.
// The slice is shared: do not modify it.
func TopicConfigDefs() []ConfigDef { return topicConfigDefs }

// TopicConfigDef returns the definition of a topic config, or nil.
func TopicConfigDef(name string) *ConfigDef { return topicConfigIndex[name] }

// BrokerConfigDefs returns the broker configs that may be set dynamically
// (cluster-wide) through SetBrokerConfigs, sorted by name. The slice is
// shared: do not modify it.
func BrokerConfigDefs() []ConfigDef { return brokerConfigDefs }

// BrokerConfigDef returns the definition of a dynamic broker config, or nil.
func BrokerConfigDef(name string) *ConfigDef { return brokerConfigIndex[name] }

// ValidateTopicConfigs checks explicit topic config overrides: every name
// must be a known topic config and every value must parse as its type and
// lie in its range. The error is an *Error with INVALID_CONFIG and Kafka's
// wording; configs are checked in name order so the error is stable.
func ValidateTopicConfigs(configs map[string]string) error {
	for _, name := range sortedKeys(configs) {
		d := topicConfigIndex[name]
		if d == nil {
			return newError(kerr.InvalidConfig, "Unknown topic config name: %s", name)
		}
		if err := d.Validate(configs[name]); err != nil {
			return err
		}
	}
	return validateCompactionLag(configs)
}

// ValidateBrokerConfigs checks dynamic broker config overrides like
// ValidateTopicConfigs does for topics.
func ValidateBrokerConfigs(configs map[string]string) error {
	for _, name := range sortedKeys(configs) {
		d := brokerConfigIndex[name]
		if d == nil {
			return newError(kerr.InvalidConfig, "Cannot update these configs dynamically: [%s]", name)
		}
		if err := d.Validate(configs[name]); err != nil {
			return err
		}
	}
	return nil
}

// validateCompactionLag is Kafka's cross-field check:
// min.compaction.lag.ms must not exceed max.compaction.lag.ms.
func validateCompactionLag(configs map[string]string) error {
	minLag, maxLag := int64(0), int64(math.MaxInt64)
	if v, ok := configs["min.compaction.lag.ms"]; ok {
		minLag, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	}
	if v, ok := configs["max.compaction.lag.ms"]; ok {
		maxLag, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	}
	if minLag > maxLag {
		return newError(kerr.InvalidConfig, "conflict topic config setting min.compaction.lag.ms (%d) > max.compaction.lag.ms (%d)", minLag, maxLag)
	}
	return nil
}

// Validate checks one value against the definition.
func (d *ConfigDef) Validate(value string) error {
	bad := func(format string, args ...any) error {
		return newError(kerr.InvalidConfig, "Invalid value %s for configuration %s: %s", value, d.Name, fmt.Sprintf(format, args...))
	}
	v := strings.TrimSpace(value)
	switch d.Type {
	case TypeBoolean:
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return bad("Expected value to be either true or false")
		}
	case TypeInt, TypeLong, TypeShort:
		bits := 64
		if d.Type == TypeInt {
			bits = 32
		} else if d.Type == TypeShort {
			bits = 16
		}
		n, err := strconv.ParseInt(v, 10, bits)
		if err != nil {
			return bad("Not a number of type %s", d.Type)
		}
		if err := d.checkRange(float64(n), bad); err != nil {
			return err
		}
	case TypeDouble:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) {
			return bad("Not a number of type DOUBLE")
		}
		if err := d.checkRange(f, bad); err != nil {
			return err
		}
	case TypeString:
		if len(d.in) > 0 && !contains(d.in, v) {
			return bad("String must be one of: %s", strings.Join(d.in, ", "))
		}
	case TypeList:
		if len(d.in) > 0 {
			for _, item := range splitList(v) {
				if !contains(d.in, item) {
					return newError(kerr.InvalidConfig, "Invalid value %s for configuration %s: String must be one of: %s", item, d.Name, strings.Join(d.in, ", "))
				}
			}
		}
	}
	if d.extra != nil {
		if err := d.extra(v); err != nil {
			return bad("%v", err)
		}
	}
	return nil
}

func (d *ConfigDef) checkRange(f float64, bad func(string, ...any) error) error {
	if d.min != nil && f < *d.min {
		return bad("Value must be at least %s", fmtNum(*d.min))
	}
	if d.max != nil && f > *d.max {
		return bad("Value must be no more than %s", fmtNum(*d.max))
	}
	return nil
}

// splitList splits a Kafka LIST value: comma-separated, items trimmed, the
// empty string is the empty list.
func splitList(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	items := strings.Split(v, ",")
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
	}
	return items
}

func gzipLevel(v string) error {
	n, _ := strconv.Atoi(v)
	if n == -1 || (n >= 1 && n <= 9) {
		return nil
	}
	return fmt.Errorf("Value must be between 1 and 9, or -1 for the default")
}

// throttledReplicas accepts "*", or a list of partition:broker pairs.
func throttledReplicas(v string) error {
	items := splitList(v)
	if len(items) == 1 && items[0] == "*" {
		return nil
	}
	for _, it := range items {
		p, b, ok := strings.Cut(it, ":")
		_, err1 := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
		_, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...")
		}
	}
	return nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
