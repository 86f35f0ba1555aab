package main

import (
	"reflect"
	"strings"
	"testing"
)

// outputTypes are the documents the administrative commands print with
// --format json or yaml, with their field names: scripts depend on them,
// so a change here is a change of the interface (and of docs/cli.md).
var outputTypes = map[reflect.Type]string{
	reflect.TypeFor[topicSummary]():     "name id partition_count replication_factor internal",
	reflect.TypeFor[topicCreated]():     "name id partition_count replication_factor internal created",
	reflect.TypeFor[topicDescription](): "name id partition_count replication_factor internal configs partitions",
	reflect.TypeFor[topicConfig]():      "name value source sensitive",
	reflect.TypeFor[partitionDetail]():  "partition leader leader_epoch replicas isr offline_replicas log_start_offset log_end_offset error",
	reflect.TypeFor[topicAltered]():     "name set_configs deleted_configs partition_count",
	reflect.TypeFor[topicDeleted]():     "name deleted",
	reflect.TypeFor[groupSummary]():     "name type state protocol_type coordinator",
	reflect.TypeFor[groupDescription](): "name type state protocol epoch members offsets total_lag",
	reflect.TypeFor[groupMember]():      "member_id instance_id client_id host",
	reflect.TypeFor[groupOffset]():      "topic partition committed_offset log_end_offset lag member_id",
	reflect.TypeFor[offsetsReset]():     "group executed offsets",
	reflect.TypeFor[offsetReset]():      "topic partition current_offset new_offset",
	reflect.TypeFor[groupDeleted]():     "name deleted",
	reflect.TypeFor[txnSummary]():       "transactional_id producer_id state coordinator",
	reflect.TypeFor[txnDescription]():   "transactional_id state producer_id producer_epoch timeout_ms start_timestamp partitions coordinator error",
	reflect.TypeFor[topicPartition]():   "topic partition",
	reflect.TypeFor[txnAborted]():       "topic partition producer_id producer_epoch coordinator_epoch",
	reflect.TypeFor[clusterInfo]():      "cluster_id controller brokers",
	reflect.TypeFor[brokerInfo]():       "id host port rack",
}

// fieldNames lists the JSON names of t's exported fields, inlined structs
// flattened, checking that the YAML name is the same.
func fieldNames(t *testing.T, typ reflect.Type) []string {
	t.Helper()
	var names []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		j, y := f.Tag.Get("json"), f.Tag.Get("yaml")
		if j != y {
			t.Errorf("%s.%s: json tag %q, yaml tag %q", typ.Name(), f.Name, j, y)
		}
		if j == ",inline" {
			names = append(names, fieldNames(t, f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(j, ",")
		if name == "" {
			t.Errorf("%s.%s has no json name", typ.Name(), f.Name)
		}
		names = append(names, name)
	}
	return names
}

func TestOutputFieldNames(t *testing.T) {
	for typ, want := range outputTypes {
		if got := strings.Join(fieldNames(t, typ), " "); got != want {
			t.Errorf("%s fields: %s\nwant %s", typ.Name(), got, want)
		}
	}
}
