package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Durability names the fsync policy of partition logs (samsa.log.durability).
type Durability string

const (
	// DurabilitySync fsyncs before acknowledging a write (group-committed
	// across partitions). The default: with one replica, the disk is the
	// only copy.
	DurabilitySync Durability = "sync"
	// DurabilityPageCache is Kafka's default: writes sit in the page cache
	// and are flushed per log.flush.interval.messages / log.flush.interval.ms.
	DurabilityPageCache Durability = "pagecache"
)

// Listener is one entry of listeners or advertised.listeners:
// NAME://host:port, or host:port for PLAINTEXT://host:port.
type Listener struct {
	Name string // listener name, also the security protocol for now (PLAINTEXT)
	Host string // "" binds every interface
	Port int32
}

// Wildcard reports whether the listener binds every interface: an empty
// host, 0.0.0.0 or ::. Such an address cannot be told to clients.
func (l Listener) Wildcard() bool {
	return l.Host == "" || l.Host == "0.0.0.0" || l.Host == "::"
}

// Addr is the host:port to listen on or to advertise.
func (l Listener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port))) }

func (l Listener) String() string { return l.Name + "://" + l.Addr() }

// Config is a node's configuration. The zero value is not useful; use
// Default or Load.
type Config struct {
	NodeID              int32      // node.id
	Listeners           []Listener // listeners
	AdvertisedListeners []Listener // advertised.listeners; defaults to listeners, with this machine's host name for a wildcard host
	LogDirs             []string   // log.dirs (log.dir is a synonym used when log.dirs is unset)
	MetadataLogDir      string     // metadata.log.dir; defaults to <first log dir>/__cluster_metadata
	ClusterID           string     // samsa.cluster.id; generated on first start when empty

	NumPartitions            int32 // num.partitions: partitions of an auto-created topic
	DefaultReplicationFactor int16 // default.replication.factor
	AutoCreateTopicsEnable   bool  // auto.create.topics.enable

	LogRetentionMs              int64  // log.retention.ms / .minutes / .hours; -1 keeps forever
	LogRetentionBytes           int64  // log.retention.bytes; -1 is unlimited
	LogSegmentBytes             int64  // log.segment.bytes
	LogRollMs                   int64  // log.roll.ms / log.roll.hours
	LogFlushIntervalMessages    int64  // log.flush.interval.messages (pagecache durability only)
	LogFlushIntervalMs          int64  // log.flush.interval.ms (pagecache durability only)
	LogCleanupPolicy            string // log.cleanup.policy
	LogRetentionCheckIntervalMs int64  // log.retention.check.interval.ms: how often retention runs
	LogCleanerEnable            bool   // log.cleaner.enable: run the compaction cleaner

	ProducerIDExpirationMs              int64      // producer.id.expiration.ms: idle producers' state is forgotten after this
	ProducerIDExpirationCheckIntervalMs int64      // producer.id.expiration.check.interval.ms
	LogDurability                       Durability // samsa.log.durability: sync or pagecache

	MessageMaxBytes       int32 // message.max.bytes: largest record batch accepted
	SocketRequestMaxBytes int32 // socket.request.max.bytes: largest request frame accepted

	// AdminListener is the host:port of the HTTP admin server (/metrics,
	// /healthz, /readyz), samsa.admin.listener; "" disables it.
	AdminListener string
	// AdminPprofEnable serves Go's runtime profiles (net/http/pprof) under
	// /debug/pprof on the admin server (samsa.admin.pprof.enable); off by
	// default, since profiles expose internals.
	AdminPprofEnable bool
	// ShutdownTimeoutMs bounds a graceful shutdown (samsa.shutdown.timeout.ms).
	ShutdownTimeoutMs int64
	// FetchMaxSessions bounds the fetch session cache (max.incremental.fetch.session.cache.slots).
	FetchMaxSessions int32
	// MaxPartitionsPerRequest bounds the partitions one CreateTopics or
	// CreatePartitions request creates (samsa.max.partitions.per.request).
	MaxPartitionsPerRequest int32
	// MaxBrokerPartitions bounds the partition replicas one broker holds
	// (max.broker.partitions, KIP-578).
	MaxBrokerPartitions int32

	// ProcessRoles is process.roles: "broker", "controller" or both. Both
	// (a combined node) is the default, and with no controller.quorum.voters
	// a combined node is a cluster of one.
	ProcessRoles []string
	// ControllerQuorumVoters is controller.quorum.voters: the controller
	// quorum, id@host:port each. Empty means a cluster of one (this node,
	// with an in-process Raft transport).
	ControllerQuorumVoters []Voter
	// ControllerListenerNames is controller.listener.names: the listeners
	// that serve the controller (Raft and the controller's APIs) rather
	// than clients. The first is the one a controller listens on.
	ControllerListenerNames []string
	// InterBrokerListenerName is inter.broker.listener.name: the listener
	// other brokers reach this one on, and the endpoint it registers.
	InterBrokerListenerName string
	// BrokerRack is broker.rack ("" for none).
	BrokerRack string
	// BrokerHeartbeatIntervalMs is broker.heartbeat.interval.ms.
	BrokerHeartbeatIntervalMs int64
	// BrokerSessionTimeoutMs is broker.session.timeout.ms: a broker whose
	// heartbeats stop for this long is fenced.
	BrokerSessionTimeoutMs int64
	// InitialBrokerRegistrationTimeoutMs is
	// initial.broker.registration.timeout.ms: how long a starting broker
	// tries to register before it gives up and exits.
	InitialBrokerRegistrationTimeoutMs int64
	// ControllerQuorumElectionTimeoutMs is
	// controller.quorum.election.timeout.ms: how long a voter waits
	// without hearing from a leader before it starts an election.
	ControllerQuorumElectionTimeoutMs int64
	// ReplicaLagTimeMaxMs is replica.lag.time.max.ms: a follower that has
	// not caught up with its leader for this long leaves the ISR.
	ReplicaLagTimeMaxMs int64
	// ReplicaFetchWaitMaxMs is replica.fetch.wait.max.ms: how long a
	// follower's fetch waits at the leader for records.
	ReplicaFetchWaitMaxMs int64
	// ReplicaFetchMaxBytes is replica.fetch.max.bytes: the bytes a
	// follower asks for per partition (at least one batch comes).
	ReplicaFetchMaxBytes int32
	// ReplicaFetchResponseMaxBytes is replica.fetch.response.max.bytes:
	// the bytes a follower asks for per fetch.
	ReplicaFetchResponseMaxBytes int32
	// ReplicaFetchBackoffMs is replica.fetch.backoff.ms: a follower's pause
	// after a failed fetch.
	ReplicaFetchBackoffMs int64
	// AutoLeaderRebalanceEnable is auto.leader.rebalance.enable: the
	// active controller gives partitions back to their preferred leaders.
	AutoLeaderRebalanceEnable bool
	// LeaderImbalanceCheckIntervalSeconds is
	// leader.imbalance.check.interval.seconds: how often it checks.
	LeaderImbalanceCheckIntervalSeconds int64
	// LeaderImbalancePerBrokerPercentage is
	// leader.imbalance.per.broker.percentage: the share of a broker's
	// preferred partitions that may be led elsewhere before a check moves
	// them back.
	LeaderImbalancePerBrokerPercentage int32

	// Unknown lists the keys found in the sources that are not start-up
	// settings, when Load was allowed to accept them (Sources.AllowUnknown)
	// or the config came from Parse: they are for a warning and otherwise
	// ignored.
	Unknown []UnknownKey
	// Props is the merged property map the config was parsed from.
	Props map[string]string
}

// Voter is one member of controller.quorum.voters.
type Voter struct {
	ID   int32
	Host string
	Port int32
}

// Addr is the voter's host:port.
func (v Voter) Addr() string { return net.JoinHostPort(v.Host, strconv.Itoa(int(v.Port))) }

func (v Voter) String() string { return strconv.Itoa(int(v.ID)) + "@" + v.Addr() }

// IsBroker reports whether process.roles includes broker.
func (c *Config) IsBroker() bool { return slices.Contains(c.ProcessRoles, "broker") }

// IsController reports whether process.roles includes controller.
func (c *Config) IsController() bool { return slices.Contains(c.ProcessRoles, "controller") }

// Clustered reports whether controller.quorum.voters names a quorum: the
// node is then one of several, with its metadata log replicated over the
// network. Otherwise it is a cluster of one.
func (c *Config) Clustered() bool { return len(c.ControllerQuorumVoters) > 0 }

// IsControllerListener reports whether the named listener is one of
// controller.listener.names.
func (c *Config) IsControllerListener(name string) bool {
	return slices.Contains(c.ControllerListenerNames, name)
}

// ControllerListener is the listener this node serves the controller on
// (the first of controller.listener.names it listens on), if any.
func (c *Config) ControllerListener() (Listener, bool) {
	for _, name := range c.ControllerListenerNames {
		for _, l := range c.Listeners {
			if l.Name == name {
				return l, true
			}
		}
	}
	return Listener{}, false
}

// BrokerListeners are the listeners that serve clients: every listener
// that is not a controller listener.
func (c *Config) BrokerListeners() []Listener {
	var out []Listener
	for _, l := range c.Listeners {
		if !c.IsControllerListener(l.Name) {
			out = append(out, l)
		}
	}
	return out
}

// AdvertisedBrokerListener is the endpoint this broker registers and
// other brokers reach it on: the advertised listener named
// inter.broker.listener.name, else the first advertised client listener.
func (c *Config) AdvertisedBrokerListener() (Listener, bool) {
	var first *Listener
	for i, l := range c.AdvertisedListeners {
		if c.IsControllerListener(l.Name) {
			continue
		}
		if l.Name == c.InterBrokerListenerName {
			return l, true
		}
		if first == nil {
			first = &c.AdvertisedListeners[i]
		}
	}
	if first != nil {
		return *first, true
	}
	return Listener{}, false
}

// Voter returns the voter with this node's id, if this node is one.
func (c *Config) Voter() (Voter, bool) {
	for _, v := range c.ControllerQuorumVoters {
		if v.ID == c.NodeID {
			return v, true
		}
	}
	return Voter{}, false
}

// ParseVoters parses controller.quorum.voters: comma-separated
// id@host:port entries.
func ParseVoters(s string) ([]Voter, error) {
	var out []Voter
	seen := map[int32]bool{}
	for _, item := range splitList(s) {
		idStr, addr, ok := strings.Cut(item, "@")
		if !ok {
			return nil, fmt.Errorf("voter %q: expected id@host:port", item)
		}
		id, err := strconv.ParseInt(strings.TrimSpace(idStr), 10, 32)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("voter %q: %q is not a node id", item, idStr)
		}
		host, portStr, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("voter %q: %v", item, err)
		}
		port, err := strconv.ParseInt(portStr, 10, 32)
		if err != nil || port <= 0 || port > 65535 {
			return nil, fmt.Errorf("voter %q: bad port %q", item, portStr)
		}
		if host == "" {
			return nil, fmt.Errorf("voter %q: a voter needs a host", item)
		}
		if seen[int32(id)] {
			return nil, fmt.Errorf("voter %q: node %d is listed twice", item, id)
		}
		seen[int32(id)] = true
		out = append(out, Voter{ID: int32(id), Host: host, Port: int32(port)})
	}
	return out, nil
}

// Def describes one configuration key.
type Def struct {
	Name    string
	Default string // "" means unset
	Doc     string
}

// Defs lists every key this package parses, with Kafka's default.
var Defs = []Def{
	{"node.id", "1", "The node's id in the cluster."},
	{"listeners", "PLAINTEXT://127.0.0.1:9092", "Comma-separated NAME://host:port (host:port alone means PLAINTEXT) to listen on for Kafka clients; an empty host, 0.0.0.0 or :: binds every interface."},
	{"advertised.listeners", "", "Listeners told to clients in metadata; unset, the listeners, with this machine's host name for an empty host, 0.0.0.0 or ::."},
	{"log.dirs", "", "Comma-separated directories holding partition logs."},
	{"log.dir", "./data", "The log directory, used when log.dirs is not set."},
	{"metadata.log.dir", "", "Directory of the metadata log; defaults to <first log dir>/__cluster_metadata."},
	{"samsa.cluster.id", "", "Cluster id used when the metadata log is created; generated when empty."},
	{"num.partitions", "1", "Partitions of auto-created topics."},
	{"default.replication.factor", "1", "Replication factor of auto-created topics."},
	{"auto.create.topics.enable", "true", "Create a topic when a client asks for metadata of, or produces to, an unknown one."},
	{"log.retention.hours", "168", "Hours to keep a log segment before deleting it."},
	{"log.retention.minutes", "", "Minutes to keep a log segment; overrides log.retention.hours."},
	{"log.retention.ms", "", "Milliseconds to keep a log segment; overrides log.retention.minutes; -1 keeps forever."},
	{"log.retention.bytes", "-1", "Largest size of a partition log before old segments are deleted; -1 is unlimited."},
	{"log.segment.bytes", "1073741824", "Size at which a log segment is rolled."},
	{"log.roll.hours", "168", "Age at which a log segment is rolled."},
	{"log.roll.ms", "", "Age in milliseconds at which a log segment is rolled; overrides log.roll.hours."},
	{"log.flush.interval.messages", "9223372036854775807", "Messages accumulated before a flush (pagecache durability)."},
	{"log.flush.interval.ms", "", "Milliseconds before a flush (pagecache durability); unset means never by time."},
	{"log.cleanup.policy", "delete", "Default cleanup policy: delete, compact or both."},
	{"log.retention.check.interval.ms", "300000", "Milliseconds between checks for segments to delete by retention."},
	{"log.cleaner.enable", "true", "Run the log cleaner that compacts topics with cleanup.policy=compact."},
	{"producer.id.expiration.ms", "86400000", "Milliseconds an idle idempotent producer's state is kept."},
	{"producer.id.expiration.check.interval.ms", "600000", "Milliseconds between checks for expired producer state."},
	{"samsa.log.durability", "sync", "sync: fsync (group-committed) before acknowledging; pagecache: Kafka's page-cache policy."},
	{"message.max.bytes", "1048588", "Largest record batch size accepted."},
	{"socket.request.max.bytes", "104857600", "Largest request accepted; bigger frames close the connection."},
	{"samsa.admin.listener", "127.0.0.1:9644", "host:port of the HTTP admin server (/metrics, /healthz, /readyz); empty disables it."},
	{"samsa.admin.pprof.enable", "false", "Serve Go runtime profiles (CPU, heap, allocs, mutex, block) under /debug/pprof on the admin server."},
	{"samsa.shutdown.timeout.ms", "30000", "Longest wait for in-flight requests during a graceful shutdown."},
	{"max.incremental.fetch.session.cache.slots", "1000", "Most fetch sessions kept by the broker."},
	{"samsa.max.partitions.per.request", "50000", "Most partitions one CreateTopics or CreatePartitions request may create, over all its topics (Kafka's controller stops at 10,000 records per operation)."},
	{"max.broker.partitions", "200000", "Most partition replicas one broker may hold (KIP-578); creating more is refused with POLICY_VIOLATION."},
	{"process.roles", "broker,controller", "The node's roles: broker, controller, or both (a combined node). With no controller.quorum.voters a combined node is a cluster of one."},
	{"controller.quorum.voters", "", "The controller quorum as id@host:port entries, comma-separated (host:port is the voter's controller listener). Empty: a cluster of one, this node."},
	{"controller.listener.names", "CONTROLLER", "Listeners that serve the controller (its Raft log and the controller APIs), not clients."},
	{"inter.broker.listener.name", "PLAINTEXT", "The listener brokers reach each other on; its advertised address is the endpoint the broker registers."},
	{"broker.rack", "", "The broker's rack, used to spread a partition's replicas over racks."},
	{"broker.heartbeat.interval.ms", "1000", "Milliseconds between a broker's heartbeats to the active controller (Kafka: 2000)."},
	{"broker.session.timeout.ms", "6000", "Milliseconds without a heartbeat after which the controller fences a broker (Kafka: 9000)."},
	{"initial.broker.registration.timeout.ms", "60000", "Milliseconds a starting broker keeps trying to register with the controller quorum before it exits."},
	{"controller.quorum.election.timeout.ms", "1000", "Milliseconds a voter waits without hearing from the quorum leader before it starts an election."},
	{"replica.lag.time.max.ms", "30000", "Milliseconds a follower may go without catching up with its leader before the leader removes it from the in-sync replicas."},
	{"replica.fetch.wait.max.ms", "500", "Milliseconds a follower's fetch waits at the leader for new records."},
	{"replica.fetch.max.bytes", "1048576", "Bytes a follower asks for per partition in one fetch (a larger batch still comes whole)."},
	{"replica.fetch.response.max.bytes", "10485760", "Bytes a follower asks for in one fetch over all its partitions."},
	{"replica.fetch.backoff.ms", "1000", "Milliseconds a follower waits after a failed fetch before it fetches from that leader again."},
	{"auto.leader.rebalance.enable", "true", "The active controller gives partitions back to their preferred (first) replica when it is in the ISR again, every leader.imbalance.check.interval.seconds, for each broker whose share of partitions led elsewhere is above leader.imbalance.per.broker.percentage."},
	{"leader.imbalance.check.interval.seconds", "300", "Seconds between the controller's checks for partitions not led by their preferred replica."},
	{"leader.imbalance.per.broker.percentage", "10", "Percentage of a broker's preferred partitions that may be led by another replica before a check moves them back to it."},
}

// Synonyms are the groups of keys that set one setting, highest precedence
// first: Parse takes the first one set (log.retention.ms over
// log.retention.minutes over log.retention.hours, as Kafka does).
var Synonyms = [][]string{
	{"log.dirs", "log.dir"},
	{"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
	{"log.roll.ms", "log.roll.hours"},
}

var defsByName = func() map[string]Def {
	m := make(map[string]Def, len(Defs))
	for _, d := range Defs {
		m[d.Name] = d
	}
	return m
}()

// Register adds the settings of a subsystem that keeps its own typed
// configuration (the group and transaction coordinators) so that they are
// read from SAMSA_* variables and not reported as unknown. Their values reach
// the subsystem through Config.Props. Call it before Load, where the binary
// assembles a node (cmd/samsa serve registers replica.ConfigDefs).
func Register(defs ...Def) {
	for _, d := range defs {
		if _, dup := defsByName[d.Name]; dup {
			continue
		}
		Defs = append(Defs, d)
		defsByName[d.Name] = d
	}
}

// EnvName is the environment variable for a key.
func EnvName(key string) string {
	key = strings.TrimPrefix(key, "samsa.")
	return "SAMSA_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Sources are where Load reads properties from.
type Sources struct {
	File      string            // a server.properties file; "" for none
	Env       []string          // KEY=VALUE pairs, as os.Environ returns
	Overrides map[string]string // highest precedence (command-line flags)
	// AllowUnknown makes Load accept keys that are not start-up settings:
	// they are listed in Config.Unknown, for a warning, and otherwise
	// ignored, as Kafka does. By default Load refuses them.
	AllowUnknown bool
}

// Default is the configuration with no sources.
func Default() *Config {
	cfg, err := Load(Sources{})
	if err != nil {
		panic("config: defaults do not parse: " + err.Error()) // programming error, not input
	}
	return cfg
}

// Load merges the sources over the defaults, parses and validates them.
// Keys that are not start-up settings, from any source, make it fail with
// an *UnknownKeysError (joined with any other error) naming each key, where
// it was found and the closest known key, unless AllowUnknown is set. Of
// the environment it reads only SAMSA_* variables, by EnvRule.
func Load(src Sources) (*Config, error) {
	props := map[string]string{}
	origin := map[string]string{} // key → where its value came from
	var misspelt []UnknownKey     // SAMSA_ variables that name no key
	if src.File != "" {
		data, err := os.ReadFile(src.File)
		if err != nil {
			return nil, fmt.Errorf("read config file: %w", err)
		}
		fileProps, lines, err := parseProperties(data)
		if err != nil {
			return nil, fmt.Errorf("config file %s: %w", src.File, err)
		}
		for k, v := range fileProps {
			props[k] = v
			origin[k] = fmt.Sprintf("%s line %d", src.File, lines[k])
		}
	}
	if len(src.Env) > 0 {
		keys := envKeys()
		env := map[string]string{}
		for _, kv := range src.Env {
			if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "SAMSA_") {
				env[k] = v
			}
		}
		for _, name := range sortedKeys(env) {
			key, miss := classifyEnv(name, keys)
			switch {
			case key != "":
				props[key] = env[name]
				origin[key] = "environment variable " + name
			case miss != "":
				misspelt = append(misspelt, UnknownKey{Key: name, Env: true, Source: "environment", Suggestion: miss})
			}
		}
	}
	for k, v := range src.Overrides {
		props[k] = v
		origin[k] = "command line"
	}
	unknown := unknownKeys(props)
	for i := range unknown {
		unknown[i].Source = origin[unknown[i].Key]
	}
	unknown = append(unknown, misspelt...)
	var unknownErr error
	if len(unknown) > 0 && !src.AllowUnknown {
		unknownErr = &UnknownKeysError{Keys: unknown}
	}
	cfg, err := Parse(props)
	if err != nil || unknownErr != nil {
		return nil, errors.Join(unknownErr, err)
	}
	cfg.Unknown = unknown
	return cfg, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ParseProperties reads Java properties in the subset server.properties
// files use: key=value or key:value lines, # and ! comments, blank lines,
// and backslash line continuations.
func ParseProperties(data []byte) (map[string]string, error) {
	props, _, err := parseProperties(data)
	return props, err
}

// parseProperties is ParseProperties that also returns the line each key
// was last set on (the first line of a continued one).
func parseProperties(data []byte) (map[string]string, map[string]int, error) {
	props := map[string]string{}
	lines := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	var pending string
	lineNo, startLine := 0, 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if pending == "" && (line == "" || line[0] == '#' || line[0] == '!') {
			continue
		}
		if pending == "" {
			startLine = lineNo
		}
		if strings.HasSuffix(line, `\`) && !strings.HasSuffix(line, `\\`) {
			pending += strings.TrimSuffix(line, `\`)
			continue
		}
		line = pending + line
		pending = ""
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			return nil, nil, fmt.Errorf("line %d: expected key=value, got %q", lineNo, line)
		}
		k, v := strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:])
		if k == "" {
			return nil, nil, fmt.Errorf("line %d: empty key", lineNo)
		}
		props[k] = v
		lines[k] = startLine
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	if pending != "" {
		return nil, nil, errors.New("file ends inside a continued line")
	}
	return props, lines, nil
}

// Parse builds a Config from properties over the defaults, then validates it.
func Parse(props map[string]string) (*Config, error) {
	merged := make(map[string]string, len(Defs)+len(props))
	for _, d := range Defs {
		if d.Default != "" {
			merged[d.Name] = d.Default
		}
	}
	for k, v := range props {
		merged[k] = v
	}
	p := parser{props: merged, explicit: props}
	cfg := &Config{Unknown: unknownKeys(props), Props: merged}

	cfg.NodeID = int32(p.int("node.id", math.MinInt32, math.MaxInt32))
	cfg.Listeners = p.listeners("listeners")
	cfg.AdvertisedListeners = p.listeners("advertised.listeners")
	if dirs := p.str("log.dirs"); dirs != "" {
		cfg.LogDirs = splitList(dirs)
	} else {
		cfg.LogDirs = splitList(p.str("log.dir"))
	}
	cfg.MetadataLogDir = p.str("metadata.log.dir")
	if cfg.MetadataLogDir == "" && len(cfg.LogDirs) > 0 {
		cfg.MetadataLogDir = filepath.Join(cfg.LogDirs[0], "__cluster_metadata")
	}
	cfg.ClusterID = p.str("samsa.cluster.id")
	cfg.NumPartitions = int32(p.int("num.partitions", math.MinInt32, math.MaxInt32))
	cfg.DefaultReplicationFactor = int16(p.int("default.replication.factor", math.MinInt16, math.MaxInt16))
	cfg.AutoCreateTopicsEnable = p.bool("auto.create.topics.enable")

	switch {
	case p.set("log.retention.ms"):
		cfg.LogRetentionMs = p.int("log.retention.ms", math.MinInt64, math.MaxInt64)
	case p.set("log.retention.minutes"):
		cfg.LogRetentionMs = mulSat(p.int("log.retention.minutes", math.MinInt64, math.MaxInt64), int64(time.Minute/time.Millisecond))
	default:
		cfg.LogRetentionMs = mulSat(p.int("log.retention.hours", math.MinInt64, math.MaxInt64), int64(time.Hour/time.Millisecond))
	}
	if cfg.LogRetentionMs < 0 {
		cfg.LogRetentionMs = -1
	}
	cfg.LogRetentionBytes = p.int("log.retention.bytes", math.MinInt64, math.MaxInt64)
	cfg.LogSegmentBytes = p.int("log.segment.bytes", math.MinInt64, math.MaxInt64)
	if p.set("log.roll.ms") {
		cfg.LogRollMs = p.int("log.roll.ms", math.MinInt64, math.MaxInt64)
	} else {
		cfg.LogRollMs = mulSat(p.int("log.roll.hours", math.MinInt64, math.MaxInt64), int64(time.Hour/time.Millisecond))
	}
	cfg.LogFlushIntervalMessages = p.int("log.flush.interval.messages", math.MinInt64, math.MaxInt64)
	cfg.LogFlushIntervalMs = math.MaxInt64
	if p.set("log.flush.interval.ms") {
		cfg.LogFlushIntervalMs = p.int("log.flush.interval.ms", math.MinInt64, math.MaxInt64)
	}
	cfg.LogCleanupPolicy = p.str("log.cleanup.policy")
	cfg.LogRetentionCheckIntervalMs = p.int("log.retention.check.interval.ms", 1, math.MaxInt64)
	cfg.LogCleanerEnable = p.bool("log.cleaner.enable")
	cfg.ProducerIDExpirationMs = p.int("producer.id.expiration.ms", 1, math.MaxInt64)
	cfg.ProducerIDExpirationCheckIntervalMs = p.int("producer.id.expiration.check.interval.ms", 1, math.MaxInt64)
	cfg.LogDurability = Durability(strings.ToLower(p.str("samsa.log.durability")))
	cfg.MessageMaxBytes = int32(p.int("message.max.bytes", math.MinInt32, math.MaxInt32))
	cfg.SocketRequestMaxBytes = int32(p.int("socket.request.max.bytes", math.MinInt32, math.MaxInt32))
	cfg.AdminListener = p.str("samsa.admin.listener")
	cfg.AdminPprofEnable = p.bool("samsa.admin.pprof.enable")
	cfg.ShutdownTimeoutMs = p.int("samsa.shutdown.timeout.ms", math.MinInt64, math.MaxInt64)
	cfg.FetchMaxSessions = int32(p.int("max.incremental.fetch.session.cache.slots", math.MinInt32, math.MaxInt32))
	cfg.MaxPartitionsPerRequest = int32(p.int("samsa.max.partitions.per.request", 1, math.MaxInt32))
	cfg.MaxBrokerPartitions = int32(p.int("max.broker.partitions", 1, math.MaxInt32))
	cfg.ProcessRoles = splitList(strings.ToLower(p.str("process.roles")))
	if v := p.str("controller.quorum.voters"); v != "" {
		voters, err := ParseVoters(v)
		if err != nil && p.err == nil {
			p.err = fmt.Errorf("controller.quorum.voters: %w", err)
		}
		cfg.ControllerQuorumVoters = voters
	}
	for _, n := range splitList(p.str("controller.listener.names")) {
		cfg.ControllerListenerNames = append(cfg.ControllerListenerNames, strings.ToUpper(n))
	}
	cfg.InterBrokerListenerName = strings.ToUpper(strings.TrimSpace(p.str("inter.broker.listener.name")))
	cfg.BrokerRack = p.str("broker.rack")
	cfg.BrokerHeartbeatIntervalMs = p.int("broker.heartbeat.interval.ms", 1, math.MaxInt32)
	cfg.BrokerSessionTimeoutMs = p.int("broker.session.timeout.ms", 1, math.MaxInt32)
	cfg.InitialBrokerRegistrationTimeoutMs = p.int("initial.broker.registration.timeout.ms", 1, math.MaxInt32)
	cfg.ControllerQuorumElectionTimeoutMs = p.int("controller.quorum.election.timeout.ms", 10, math.MaxInt32)
	cfg.ReplicaLagTimeMaxMs = p.int("replica.lag.time.max.ms", 1, math.MaxInt32)
	cfg.ReplicaFetchWaitMaxMs = p.int("replica.fetch.wait.max.ms", 0, math.MaxInt32)
	cfg.ReplicaFetchMaxBytes = int32(p.int("replica.fetch.max.bytes", 0, math.MaxInt32))
	cfg.ReplicaFetchResponseMaxBytes = int32(p.int("replica.fetch.response.max.bytes", 0, math.MaxInt32))
	cfg.ReplicaFetchBackoffMs = p.int("replica.fetch.backoff.ms", 0, math.MaxInt32)
	cfg.AutoLeaderRebalanceEnable = p.bool("auto.leader.rebalance.enable")
	cfg.LeaderImbalanceCheckIntervalSeconds = p.int("leader.imbalance.check.interval.seconds", 1, math.MaxInt32)
	cfg.LeaderImbalancePerBrokerPercentage = int32(p.int("leader.imbalance.per.broker.percentage", 0, 100))

	if p.err != nil {
		return nil, p.err
	}
	if len(cfg.AdvertisedListeners) == 0 {
		cfg.AdvertisedListeners = advertise(cfg.Listeners, false)
	} else {
		cfg.AdvertisedListeners = advertise(cfg.AdvertisedListeners, true)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// hostname is os.Hostname, replaceable in tests.
var hostname = os.Hostname

// advertise gives the listeners clients are told about. An empty host
// stands for this machine's host name, as in Kafka. When advertised.listeners
// is not set (explicit false) the listeners are advertised, and a wildcard
// host (0.0.0.0, ::) is replaced by the host name too: Kafka refuses to
// start in that case, Samsa advertises the name and serve logs it. An
// explicit 0.0.0.0 or :: is left for Validate to refuse.
func advertise(ls []Listener, explicit bool) []Listener {
	out := make([]Listener, len(ls))
	for i, l := range ls {
		if l.Host == "" || (!explicit && l.Wildcard()) {
			if h, err := hostname(); err == nil && h != "" {
				l.Host = h
			}
		}
		out[i] = l
	}
	return out
}

// Validate checks ranges and cross-field rules.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.NodeID < 0 {
		bad("node.id must be >= 0, got %d", c.NodeID)
	}
	if len(c.Listeners) == 0 {
		bad("listeners must name at least one listener")
	}
	seen := map[string]bool{}
	for _, l := range c.Listeners {
		if seen[l.Name] {
			bad("listeners: name %s used twice", l.Name)
		}
		seen[l.Name] = true
		if l.Name != "PLAINTEXT" && !c.IsControllerListener(l.Name) {
			bad("listeners: %s is neither PLAINTEXT nor one of controller.listener.names (%s); only PLAINTEXT is supported for clients", l.Name, strings.Join(c.ControllerListenerNames, ","))
		}
	}
	c.validateRoles(bad)
	for _, l := range c.AdvertisedListeners {
		if !seen[l.Name] {
			bad("advertised.listeners: %s is not in listeners", l.Name)
		}
		if l.Port == 0 && len(c.Listeners) > 0 && c.Listeners[0].Port != 0 {
			bad("advertised.listeners: %s needs a port", l.Name)
		}
		if l.Wildcard() {
			bad("advertised.listeners: %s tells clients to connect to %q, which they cannot reach; give this machine's name or address (Kafka refuses it too)", l, l.Host)
		}
	}
	if len(c.LogDirs) == 0 {
		bad("log.dirs must name at least one directory")
	}
	seenDir := map[string]bool{}
	for _, d := range c.LogDirs {
		if d == "" {
			bad("log.dirs: empty directory name")
			continue
		}
		if seenDir[filepath.Clean(d)] {
			bad("log.dirs: %s is listed twice", d)
		}
		seenDir[filepath.Clean(d)] = true
	}
	// Each directory is locked by the one component that writes it.
	if c.MetadataLogDir != "" && seenDir[filepath.Clean(c.MetadataLogDir)] {
		bad("metadata.log.dir %s is also a log.dirs entry; give the metadata log a directory of its own (the default is <first log dir>/__cluster_metadata)", c.MetadataLogDir)
	}
	if c.NumPartitions < 1 {
		bad("num.partitions must be >= 1, got %d", c.NumPartitions)
	}
	if c.DefaultReplicationFactor < 1 {
		bad("default.replication.factor must be >= 1, got %d", c.DefaultReplicationFactor)
	}
	if c.LogRetentionMs < -1 || c.LogRetentionMs == 0 {
		bad("log.retention.ms must be -1 or positive, got %d", c.LogRetentionMs)
	}
	if c.LogRetentionBytes < -1 {
		bad("log.retention.bytes must be >= -1, got %d", c.LogRetentionBytes)
	}
	if c.LogSegmentBytes < 14 { // Kafka's minimum: one empty batch header fits
		bad("log.segment.bytes must be >= 14, got %d", c.LogSegmentBytes)
	}
	if c.LogRollMs < 1 {
		bad("log.roll.ms must be >= 1, got %d", c.LogRollMs)
	}
	if c.LogFlushIntervalMessages < 1 {
		bad("log.flush.interval.messages must be >= 1, got %d", c.LogFlushIntervalMessages)
	}
	if c.LogFlushIntervalMs < 0 {
		bad("log.flush.interval.ms must be >= 0, got %d", c.LogFlushIntervalMs)
	}
	for _, p := range splitList(c.LogCleanupPolicy) {
		if p != "delete" && p != "compact" {
			bad("log.cleanup.policy: unknown policy %q", p)
		}
	}
	if c.LogDurability != DurabilitySync && c.LogDurability != DurabilityPageCache {
		bad("samsa.log.durability must be sync or pagecache, got %q", c.LogDurability)
	}
	if c.MessageMaxBytes < 0 {
		bad("message.max.bytes must be >= 0, got %d", c.MessageMaxBytes)
	}
	if c.SocketRequestMaxBytes < 1 {
		bad("socket.request.max.bytes must be >= 1, got %d", c.SocketRequestMaxBytes)
	}
	if c.AdminListener != "" {
		if _, _, err := net.SplitHostPort(c.AdminListener); err != nil {
			bad("samsa.admin.listener: %v", err)
		}
	}
	if c.ShutdownTimeoutMs < 0 {
		bad("samsa.shutdown.timeout.ms must be >= 0, got %d", c.ShutdownTimeoutMs)
	}
	if c.FetchMaxSessions < 0 {
		bad("max.incremental.fetch.session.cache.slots must be >= 0, got %d", c.FetchMaxSessions)
	}
	return errors.Join(errs...)
}

// LeaderImbalanceCheckInterval is how often the active controller moves
// partitions back to their preferred leaders: 0 when
// auto.leader.rebalance.enable is false, else
// leader.imbalance.check.interval.seconds.
func (c *Config) LeaderImbalanceCheckInterval() time.Duration {
	if !c.AutoLeaderRebalanceEnable {
		return 0
	}
	return time.Duration(c.LeaderImbalanceCheckIntervalSeconds) * time.Second
}

// validateRoles checks process.roles, the quorum and the listeners each
// role needs, as Kafka's KafkaConfig does.
func (c *Config) validateRoles(bad func(string, ...any)) {
	roles := map[string]bool{}
	for _, r := range c.ProcessRoles {
		if r != "broker" && r != "controller" {
			bad("process.roles: unknown role %q; the roles are broker and controller", r)
		}
		if roles[r] {
			bad("process.roles: %s is listed twice", r)
		}
		roles[r] = true
	}
	if len(c.ProcessRoles) == 0 {
		bad("process.roles must name broker, controller or both")
		return
	}
	ctrl, hasCtrl := c.ControllerListener()
	if !c.Clustered() {
		if !c.IsBroker() || !c.IsController() {
			bad("process.roles=%s needs controller.quorum.voters: a node without it is a cluster of one and must be both broker and controller", strings.Join(c.ProcessRoles, ","))
		}
		if len(c.BrokerListeners()) == 0 {
			bad("listeners must name a listener for clients besides the controller listeners (%s)", strings.Join(c.ControllerListenerNames, ","))
		}
		return
	}
	if c.ClusterID == "" {
		bad("samsa.cluster.id is required with controller.quorum.voters: every node of a cluster must be started with the same id (generate one with: samsa cluster new-id)")
	}
	if len(c.ControllerListenerNames) == 0 {
		bad("controller.listener.names must name the controller listener when controller.quorum.voters is set")
	}
	v, isVoter := c.Voter()
	if c.IsController() {
		switch {
		case !isVoter:
			bad("node.id %d has the controller role but is not in controller.quorum.voters (%s)", c.NodeID, votersString(c.ControllerQuorumVoters))
		case !hasCtrl:
			bad("a controller must listen on its controller listener (%s); listeners has none", strings.Join(c.ControllerListenerNames, ","))
		case ctrl.Port != 0 && ctrl.Port != v.Port:
			bad("controller listener %s and this node's voter entry %s disagree on the port", ctrl, v)
		}
	} else if isVoter {
		bad("node.id %d is in controller.quorum.voters but process.roles (%s) lacks controller", c.NodeID, strings.Join(c.ProcessRoles, ","))
	} else if hasCtrl {
		bad("listeners has the controller listener %s, but process.roles (%s) lacks controller", ctrl, strings.Join(c.ProcessRoles, ","))
	}
	if c.IsBroker() {
		if len(c.BrokerListeners()) == 0 {
			bad("a broker needs a listener for clients besides the controller listeners (%s)", strings.Join(c.ControllerListenerNames, ","))
		}
		found := false
		for _, l := range c.BrokerListeners() {
			found = found || l.Name == c.InterBrokerListenerName
		}
		if !found {
			bad("inter.broker.listener.name %s is not one of the client listeners", c.InterBrokerListenerName)
		}
	}
	if c.BrokerHeartbeatIntervalMs >= c.BrokerSessionTimeoutMs {
		bad("broker.heartbeat.interval.ms (%d) must be below broker.session.timeout.ms (%d)", c.BrokerHeartbeatIntervalMs, c.BrokerSessionTimeoutMs)
	}
}

func votersString(vs []Voter) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.String()
	}
	return strings.Join(parts, ",")
}

// ParseListeners parses a comma-separated list of NAME://host:port; a bare
// host:port is PLAINTEXT://host:port (Kafka requires the name).
func ParseListeners(s string) ([]Listener, error) {
	var out []Listener
	for _, item := range splitList(s) {
		name, addr, ok := strings.Cut(item, "://")
		if !ok {
			name, addr = "PLAINTEXT", item
		}
		if name == "" {
			return nil, fmt.Errorf("listener %q: expected NAME://host:port or host:port", item)
		}
		host, portStr, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("listener %q: %v", item, err)
		}
		port, err := strconv.ParseInt(portStr, 10, 32)
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("listener %q: bad port %q", item, portStr)
		}
		out = append(out, Listener{Name: strings.ToUpper(name), Host: host, Port: int32(port)})
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func mulSat(a, b int64) int64 {
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	if a < math.MinInt64/b {
		return math.MinInt64
	}
	return a * b
}

// parser reads typed values from the merged properties, keeping the first
// error (a sticky error, so Parse reads on and checks once).
type parser struct {
	props    map[string]string
	explicit map[string]string
	err      error
}

func (p *parser) fail(key, val, want string) {
	if p.err == nil {
		p.err = fmt.Errorf("%s: %q is not %s", key, val, want)
	}
}

func (p *parser) set(key string) bool { v, ok := p.props[key]; return ok && v != "" }

func (p *parser) str(key string) string { return p.props[key] }

func (p *parser) int(key string, lo, hi int64) int64 {
	v := strings.TrimSpace(p.props[key])
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		p.fail(key, v, fmt.Sprintf("an integer in [%d, %d]", lo, hi))
		return 0
	}
	return n
}

func (p *parser) bool(key string) bool {
	switch strings.ToLower(strings.TrimSpace(p.props[key])) {
	case "true":
		return true
	case "false":
		return false
	}
	p.fail(key, p.props[key], "true or false")
	return false
}

func (p *parser) listeners(key string) []Listener {
	v := p.props[key]
	if v == "" {
		return nil
	}
	ls, err := ParseListeners(v)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("%s: %w", key, err)
	}
	return ls
}
