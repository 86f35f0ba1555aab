package metadata

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestValidateTopicName(t *testing.T) {
	good := []string{"a", "orders", "A-b_c.d", "__consumer_offsets", strings.Repeat("x", 249), "..."}
	for _, n := range good {
		if err := ValidateTopicName(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
	bad := []string{"", ".", "..", strings.Repeat("x", 250), "a b", "a/b", "é", "a\x00", "a:b", "a*"}
	for _, n := range bad {
		err := ValidateTopicName(n)
		if !errors.Is(err, kerr.InvalidTopicException) {
			t.Errorf("%q: err = %v, want INVALID_TOPIC_EXCEPTION", n, err)
		}
	}
	if !TopicNamesCollide("a.b", "a_b") || TopicNamesCollide("a.b", "a.b") || TopicNamesCollide("ab", "a_b") {
		t.Fatal("TopicNamesCollide wrong")
	}
}

func TestTopicConfigDefsDefaultsAreValid(t *testing.T) {
	defs := TopicConfigDefs()
	if len(defs) < 30 {
		t.Fatalf("only %d topic configs", len(defs))
	}
	for i, d := range defs {
		if i > 0 && defs[i-1].Name >= d.Name {
			t.Errorf("not sorted at %s", d.Name)
		}
		if !d.HasDefault {
			t.Errorf("%s has no default", d.Name)
		}
		if err := d.Validate(d.Default); err != nil {
			t.Errorf("default of %s: %v", d.Name, err)
		}
		if d.Doc == "" || d.Type == TypeUnknown {
			t.Errorf("%s lacks doc or type", d.Name)
		}
		for _, syn := range d.Synonyms {
			if BrokerConfigDef(syn) == nil {
				t.Errorf("%s: synonym %s is not a broker config", d.Name, syn)
			}
		}
	}
	for _, d := range BrokerConfigDefs() {
		if d.HasDefault {
			if err := d.Validate(d.Default); err != nil {
				t.Errorf("broker default of %s: %v", d.Name, err)
			}
		}
	}
	want := map[string]string{
		"retention.ms": "604800000", "segment.bytes": "1073741824", "cleanup.policy": "delete",
		"max.message.bytes": "1048588", "min.insync.replicas": "1", "compression.type": "producer",
		"message.timestamp.type": "CreateTime", "flush.messages": "9223372036854775807",
	}
	for name, def := range want {
		if d := TopicConfigDef(name); d == nil || d.Default != def {
			t.Errorf("%s default = %+v, want %s", name, d, def)
		}
	}
	if d := TopicConfigDef("retention.ms"); d.Synonyms[2] != "log.retention.hours" || d.SynonymScale(2) != 3600000 || d.SynonymScale(0) != 1 {
		t.Errorf("retention.ms synonyms %v", d.Synonyms)
	}
	if d := BrokerConfigDef("log.retention.ms"); d == nil || d.HasDefault {
		t.Errorf("log.retention.ms should have a null default: %+v", d)
	}
	if d := BrokerConfigDef("message.max.bytes"); d == nil || d.Default != "1048588" {
		t.Errorf("message.max.bytes: %+v", d)
	}
}

func TestValidateTopicConfigs(t *testing.T) {
	cases := []struct {
		configs map[string]string
		ok      bool
		msg     string
	}{
		{nil, true, ""},
		{map[string]string{"retention.ms": "-1", "retention.bytes": "-5", "segment.ms": "1"}, true, ""},
		{map[string]string{"cleanup.policy": "compact,delete"}, true, ""},
		{map[string]string{"cleanup.policy": " delete , compact "}, true, ""},
		{map[string]string{"cleanup.policy": ""}, true, ""},
		{map[string]string{"cleanup.policy": "compacted"}, false, "String must be one of: compact, delete"},
		{map[string]string{"compression.type": "zstd", "compression.zstd.level": "-131072"}, true, ""},
		{map[string]string{"compression.type": "brotli"}, false, "String must be one of"},
		{map[string]string{"compression.type": "GZIP"}, false, "String must be one of"},
		{map[string]string{"compression.gzip.level": "-1"}, true, ""},
		{map[string]string{"compression.gzip.level": "0"}, false, "compression.gzip.level"},
		{map[string]string{"compression.lz4.level": "18"}, false, "Value must be no more than 17"},
		{map[string]string{"min.cleanable.dirty.ratio": "0.75"}, true, ""},
		{map[string]string{"min.cleanable.dirty.ratio": "1.5"}, false, "Value must be no more than 1"},
		{map[string]string{"min.cleanable.dirty.ratio": "NaN"}, false, "DOUBLE"},
		{map[string]string{"retention.ms": "-2"}, false, "Invalid value -2 for configuration retention.ms: Value must be at least -1"},
		{map[string]string{"retention.ms": "1h"}, false, "Not a number of type LONG"},
		{map[string]string{"segment.bytes": "1048575"}, false, "Value must be at least 1048576"},
		{map[string]string{"segment.bytes": "4294967296"}, false, "Not a number of type INT"},
		{map[string]string{"max.message.bytes": " 2048 "}, true, ""},
		{map[string]string{"min.insync.replicas": "0"}, false, "at least 1"},
		{map[string]string{"message.timestamp.type": "LogAppendTime"}, true, ""},
		{map[string]string{"message.timestamp.type": "logappendtime"}, false, "CreateTime, LogAppendTime"},
		{map[string]string{"preallocate": "TRUE"}, true, ""},
		{map[string]string{"preallocate": "yes"}, false, "true or false"},
		{map[string]string{"leader.replication.throttled.replicas": "*"}, true, ""},
		{map[string]string{"leader.replication.throttled.replicas": "0:1,1:2"}, true, ""},
		{map[string]string{"leader.replication.throttled.replicas": "0-1"}, false, "[partitionId]:[brokerId]"},
		{map[string]string{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"}, false, "conflict topic config setting"},
		{map[string]string{"message.format.version": "3.0"}, false, "Unknown topic config name: message.format.version"},
		{map[string]string{"log.retention.ms": "1"}, false, "Unknown topic config name"},
	}
	for _, c := range cases {
		err := ValidateTopicConfigs(c.configs)
		if c.ok {
			if err != nil {
				t.Errorf("%v: %v", c.configs, err)
			}
			continue
		}
		if !errors.Is(err, kerr.InvalidConfig) {
			t.Errorf("%v: err = %v, want INVALID_CONFIG", c.configs, err)
			continue
		}
		if _, msg := ErrorCode(err); !strings.Contains(msg, c.msg) {
			t.Errorf("%v: message %q lacks %q", c.configs, msg, c.msg)
		}
	}
}

func TestValidateBrokerConfigs(t *testing.T) {
	if err := ValidateBrokerConfigs(map[string]string{"log.retention.hours": "24", "log.segment.bytes": "2097152", "log.cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []map[string]string{
		{"log.dirs": "/tmp"},
		{"retention.ms": "1"},
		{"log.roll.hours": "0"},
		{"message.max.bytes": "-1"},
	} {
		if err := ValidateBrokerConfigs(bad); !errors.Is(err, kerr.InvalidConfig) {
			t.Errorf("%v: err = %v", bad, err)
		}
	}
}

// FuzzValidateTopicConfigs checks the validator never panics, always
// answers INVALID_CONFIG with a message when it refuses, and accepts every
// default.
func FuzzValidateTopicConfigs(f *testing.F) {
	for _, d := range TopicConfigDefs() {
		f.Add(d.Name, d.Default)
	}
	f.Add("retention.ms", "-2")
	f.Add("cleanup.policy", "compact,,delete")
	f.Add("min.cleanable.dirty.ratio", "1e309")
	f.Add("unknown", "")
	f.Add("segment.bytes", "+1048576")
	f.Fuzz(func(t *testing.T, name, value string) {
		err := ValidateTopicConfigs(map[string]string{name: value})
		if err == nil {
			if TopicConfigDef(name) == nil {
				t.Fatalf("unknown config %q accepted", name)
			}
			return
		}
		code, msg := ErrorCode(err)
		if code != kerr.InvalidConfig.Code || msg == "" {
			t.Fatalf("%s=%q: code %d message %q", name, value, code, msg)
		}
	})
}
