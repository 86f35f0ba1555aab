// Package config is a node's typed configuration, with Apache Kafka's
// property names wherever Kafka has one.
//
// A configuration is built from four sources, later ones overriding earlier
// ones key by key:
//
//  1. the defaults in Defs (Kafka's defaults, except where a comment says why not);
//  2. a properties file in Kafka's server.properties format (Load's path);
//  3. SAMSA_* environment variables: a key's dots become underscores, the
//     name is upper-cased and prefixed with SAMSA_ (log.dirs is SAMSA_LOG_DIRS,
//     node.id is SAMSA_NODE_ID); Samsa's own keys already start with "samsa."
//     so samsa.log.durability is SAMSA_LOG_DURABILITY;
//  4. explicit overrides (command-line flags).
//
// Only variables that name a key are read (EnvRule says which SAMSA_*
// variables count as misspelt keys and which are not configuration at all).
//
// Load refuses a key that is not a start-up setting, from any source, with
// an *UnknownKeysError naming where it was and the closest known key (edit
// distance, Suggest), or the hint registered for a key Samsa reads from
// elsewhere (RegisterHint: topic configs, dynamic broker configs). Kafka
// logs such keys and starts; a misspelt key then silently means its
// default. Sources.AllowUnknown restores Kafka's behaviour.
//
// The merged properties are then parsed into Config, whose fields carry the
// Kafka names in comments, and checked by Validate. Kafka's unit synonyms
// resolve as Kafka resolves them: log.retention.ms beats
// log.retention.minutes beats log.retention.hours, and log.roll.ms beats
// log.roll.hours.
//
// Example:
//
//	cfg, err := config.Load(config.Sources{File: "server.properties", Env: os.Environ(), Overrides: map[string]string{"node.id": "2"}})
//	if err != nil { ... }
//	fmt.Println(cfg.Listeners[0].Addr())
package config
