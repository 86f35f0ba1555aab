#!/usr/bin/env bash
# Apache Kafka's command-line tools (Maven artifact org.apache.kafka:kafka-tools,
# the classes behind bin/kafka-*.sh in 4.x) run against the broker.
# Prints "ok: ...", "fail: ..." or "n/a: ..." last; exit 0, 1, 3.
set -uo pipefail

B=${COMPAT_BOOTSTRAP:-127.0.0.1:9092}
RUN=${COMPAT_RUN:-$(date +%s)}
WAIT=${COMPAT_WAIT_SECONDS:-25}
ROOT=${COMPAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
NODES=${COMPAT_NODES:-1} # brokers in the cluster, each also a controller (a voter)
RF=${COMPAT_RF:-1}       # replication factor of the topics (3 against a 3-node cluster)
CP=$(cat "$ROOT/compat/java/target/classpath.txt")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ok() { echo "ok: $*"; exit 0; }
fail() { echo "fail: $*"; exit 1; }

# tool CLASS ARGS...: one of Kafka's tools, as bin/kafka-*.sh would run it.
tool() {
  timeout $((WAIT * 2)) java -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$CP" "$@"
}
TOPICS=org.apache.kafka.tools.TopicCommand
PRODUCER=org.apache.kafka.tools.ConsoleProducer
CONSUMER=org.apache.kafka.tools.consumer.ConsoleConsumer
GROUPS_CMD=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
CONFIGS=org.apache.kafka.tools.ConfigCommand
PRODUCER_PERF=org.apache.kafka.tools.ProducerPerformance
CONSUMER_PERF=org.apache.kafka.tools.ConsumerPerformance
QUORUM=org.apache.kafka.tools.MetadataQuorumCommand
API_VERSIONS=org.apache.kafka.tools.BrokerApiVersionsCommand

# last error-looking line of a tool's output, as a reason
why() { grep -E 'Error|Exception|ERROR' "$1" | grep -v '^\s*at ' | tail -1 | cut -c1-240; }

create() { # topic partitions
  tool $TOPICS --bootstrap-server "$B" --create --topic "$1" --partitions "$2" --replication-factor "$RF" >"$TMP/create.out" 2>&1 ||
    fail "kafka-topics --create $1: $(why "$TMP/create.out")"
}

console_produce() { # topic file (key:value lines)
  tool $PRODUCER --bootstrap-server "$B" --topic "$1" --property parse.key=true --property key.separator=: \
    --producer-property delivery.timeout.ms=$((WAIT * 1000)) --producer-property request.timeout.ms=$((WAIT * 400)) \
    <"$2" >"$TMP/produce.out" 2>&1 || fail "kafka-console-producer: $(why "$TMP/produce.out")"
  grep -q 'ERROR' "$TMP/produce.out" && fail "kafka-console-producer: $(why "$TMP/produce.out")"
  return 0
}

t="compat-cli-$1-$RUN"
case "${1:-}" in
version)
  ok "$(unzip -p "$(tr ':' '\n' <<<"$CP" | grep '/kafka-clients-[0-9]')" kafka/kafka-version.properties | sed -n 's/^version=//p')"
  ;;
topics)
  tool $TOPICS --bootstrap-server "$B" --create --topic "$t" --partitions 3 --replication-factor "$RF" --config retention.ms=3600000 >"$TMP/o" 2>&1 ||
    fail "--create: $(why "$TMP/o")"
  tool $TOPICS --bootstrap-server "$B" --list >"$TMP/o" 2>&1 || fail "--list: $(why "$TMP/o")"
  grep -qx "$t" "$TMP/o" || fail "--list does not show the created topic"
  tool $TOPICS --bootstrap-server "$B" --describe --topic "$t" >"$TMP/o" 2>&1 || fail "--describe: $(why "$TMP/o")"
  grep -q 'PartitionCount: 3' "$TMP/o" || fail "--describe: no 'PartitionCount: 3' in: $(head -1 "$TMP/o" | cut -c1-200)"
  grep -q 'retention.ms=3600000' "$TMP/o" || fail "--describe: retention.ms=3600000 not shown: $(head -1 "$TMP/o" | cut -c1-200)"
  [ "$(grep -c 'Partition: [0-9]' "$TMP/o")" -eq 3 ] || fail "--describe: $(grep -c 'Partition: [0-9]' "$TMP/o") partition lines, want 3"
  # the replication factor, and each partition's Replicas: a list of RF distinct brokers
  grep -q "ReplicationFactor: $RF\b" "$TMP/o" || fail "--describe: no 'ReplicationFactor: $RF' (COMPAT_RF) in: $(head -1 "$TMP/o" | cut -c1-200)"
  replicas=$(sed -n 's/.*Partition: [0-9]*[[:space:]].*Replicas: \([0-9,]*\)[[:space:]].*/\1/p' "$TMP/o")
  [ "$(grep -c . <<<"$replicas")" -eq 3 ] || fail "--describe: $(grep -c . <<<"$replicas") partitions list their replicas, want 3"
  while read -r r; do
    [ "$(tr ',' '\n' <<<"$r" | sort -u | grep -c .)" -eq "$RF" ] || fail "--describe: a partition's replicas are $r, want $RF distinct brokers (COMPAT_RF)"
  done <<<"$replicas"
  tool $TOPICS --bootstrap-server "$B" --alter --topic "$t" --partitions 4 >"$TMP/o" 2>&1 || fail "--alter --partitions 4: $(why "$TMP/o")"
  tool $TOPICS --bootstrap-server "$B" --describe --topic "$t" >"$TMP/o" 2>&1 || fail "--describe: $(why "$TMP/o")"
  grep -q 'PartitionCount: 4' "$TMP/o" || fail "--alter --partitions 4 did not take: $(head -1 "$TMP/o" | cut -c1-200)"
  tool $TOPICS --bootstrap-server "$B" --delete --topic "$t" >"$TMP/o" 2>&1 || fail "--delete: $(why "$TMP/o")"
  deadline=$((SECONDS + WAIT))
  while tool $TOPICS --bootstrap-server "$B" --list 2>/dev/null | grep -qx "$t"; do
    [ $SECONDS -gt $deadline ] && fail "--delete: topic still listed after ${WAIT}s"
  done
  ok "kafka-topics --create, --list, --describe (ReplicationFactor: $RF, $RF replicas a partition), --alter, --delete"
  ;;
console)
  create "$t" 1
  for i in $(seq 0 19); do echo "k$i:value $i"; done >"$TMP/in"
  console_produce "$t" "$TMP/in"
  tool $CONSUMER --bootstrap-server "$B" --topic "$t" --from-beginning --max-messages 20 --timeout-ms $((WAIT * 1000)) \
    --formatter-property print.key=true --formatter-property key.separator=: >"$TMP/got" 2>"$TMP/err" || fail "kafka-console-consumer: $(why "$TMP/err")"
  diff -q "$TMP/in" "$TMP/got" >/dev/null || fail "console consumer printed $(wc -l <"$TMP/got") records, differing from the 20 produced: $(diff "$TMP/in" "$TMP/got" | sed -n 2p)"
  ok "kafka-console-producer and kafka-console-consumer --from-beginning, 20 keyed records"
  ;;
consumer-groups)
  g="compat-cli-group-$RUN"
  create "$t" 2
  for i in $(seq 0 9); do echo "k$i:v$i"; done >"$TMP/in"
  console_produce "$t" "$TMP/in"
  tool $CONSUMER --bootstrap-server "$B" --topic "$t" --group "$g" --from-beginning --max-messages 10 --timeout-ms $((WAIT * 1000)) \
    >"$TMP/got" 2>"$TMP/err" || fail "console consumer in group $g: $(why "$TMP/err")"
  [ "$(wc -l <"$TMP/got")" -eq 10 ] || fail "console consumer in group read $(wc -l <"$TMP/got") of 10 records"
  tool $GROUPS_CMD --bootstrap-server "$B" --list >"$TMP/o" 2>&1 || fail "--list: $(why "$TMP/o")"
  grep -q "^$g\b" "$TMP/o" || fail "--list does not show group $g"
  tool $GROUPS_CMD --bootstrap-server "$B" --describe --group "$g" >"$TMP/o" 2>&1 || fail "--describe: $(why "$TMP/o")"
  # GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
  total=$(awk -v t="$t" '$2 == t { c += $4 } END { print c+0 }' "$TMP/o")
  lag=$(awk -v t="$t" '$2 == t { l += $6 } END { print l+0 }' "$TMP/o")
  [ "$total" -eq 10 ] && [ "$lag" -eq 0 ] || fail "--describe: committed offsets sum to $total with lag $lag, want 10 and 0"
  tool $GROUPS_CMD --bootstrap-server "$B" --reset-offsets --group "$g" --topic "$t" --to-earliest --execute >"$TMP/o" 2>&1 ||
    fail "--reset-offsets: $(why "$TMP/o")"
  tool $GROUPS_CMD --bootstrap-server "$B" --describe --group "$g" >"$TMP/o" 2>&1 || fail "--describe: $(why "$TMP/o")"
  lag=$(awk -v t="$t" '$2 == t { l += $6 } END { print l+0 }' "$TMP/o")
  [ "$lag" -eq 10 ] || fail "after --reset-offsets --to-earliest the lag is $lag, want 10"
  tool $GROUPS_CMD --bootstrap-server "$B" --delete --group "$g" >"$TMP/o" 2>&1 || fail "--delete: $(why "$TMP/o")"
  ok "kafka-consumer-groups --list, --describe (offsets, lag), --reset-offsets, --delete"
  ;;
configs)
  create "$t" 1
  tool $CONFIGS --bootstrap-server "$B" --entity-type topics --entity-name "$t" --alter --add-config retention.ms=7200000,cleanup.policy=compact \
    >"$TMP/o" 2>&1 || fail "--alter --add-config: $(why "$TMP/o")"
  tool $CONFIGS --bootstrap-server "$B" --entity-type topics --entity-name "$t" --describe >"$TMP/o" 2>&1 || fail "--describe: $(why "$TMP/o")"
  grep -q 'retention.ms=7200000' "$TMP/o" && grep -q 'cleanup.policy=compact' "$TMP/o" ||
    fail "--describe does not show the altered configs: $(tr '\n' ' ' <"$TMP/o" | cut -c1-200)"
  tool $CONFIGS --bootstrap-server "$B" --entity-type topics --entity-name "$t" --alter --delete-config cleanup.policy >"$TMP/o" 2>&1 ||
    fail "--alter --delete-config: $(why "$TMP/o")"
  tool $CONFIGS --bootstrap-server "$B" --entity-type topics --entity-name "$t" --describe >"$TMP/o" 2>&1 || fail "--describe: $(why "$TMP/o")"
  grep -q 'cleanup.policy=compact' "$TMP/o" && fail "--delete-config cleanup.policy did not take"
  tool $CONFIGS --bootstrap-server "$B" --entity-type brokers --entity-default --describe >"$TMP/o" 2>&1 || fail "--describe brokers: $(why "$TMP/o")"
  ok "kafka-configs --alter --add-config/--delete-config, --describe topics and brokers"
  ;;
producer-perf)
  create "$t" 3
  tool $PRODUCER_PERF --topic "$t" --num-records 50000 --record-size 100 --throughput -1 \
    --producer-props bootstrap.servers="$B" acks=all linger.ms=5 request.timeout.ms=$((WAIT * 400)) delivery.timeout.ms=$((WAIT * 1000)) >"$TMP/o" 2>&1 ||
    fail "kafka-producer-perf-test: $(why "$TMP/o")"
  line=$(grep '^50000 records sent' "$TMP/o") || fail "kafka-producer-perf-test did not send 50000 records: $(tail -1 "$TMP/o" | cut -c1-200)"
  ok "$(echo "$line" | cut -d, -f1-2)"
  ;;
consumer-perf)
  create "$t" 3
  tool $PRODUCER_PERF --topic "$t" --num-records 50000 --record-size 100 --throughput -1 \
    --producer-props bootstrap.servers="$B" acks=1 linger.ms=5 >"$TMP/o" 2>&1 || fail "producing the data: $(why "$TMP/o")"
  tool $CONSUMER_PERF --bootstrap-server "$B" --topic "$t" --messages 50000 --timeout $((WAIT * 1000)) >"$TMP/o" 2>&1 ||
    fail "kafka-consumer-perf-test: $(why "$TMP/o")"
  # start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, ...
  line=$(grep -E '^[0-9]{4}-' "$TMP/o" | tail -1)
  n=$(echo "$line" | cut -d, -f5 | tr -d ' ')
  [ "${n:-0}" -ge 50000 ] || fail "kafka-consumer-perf-test consumed ${n:-0} of 50000 records$(why "$TMP/o" | sed 's/^/: /')"
  ok "50000 records consumed, $(echo "$line" | cut -d, -f6 | tr -d ' ') records/sec"
  ;;
metadata-quorum)
  # kafka-metadata-quorum.sh describe --status: "Key:   value" lines, the
  # voters as JSON objects ({"id": 1, ...}).
  tool $QUORUM --bootstrap-server "$B" describe --status >"$TMP/o" 2>&1 || fail "describe --status: $(why "$TMP/o")"
  field() { sed -n "s/^$1:[[:space:]]*//p" "$TMP/o" | head -1; }
  leader=$(field LeaderId) hw=$(field HighWatermark)
  voters=$(field CurrentVoters | grep -o '"id": *[0-9]*' | grep -o '[0-9]*$' | sort -n | tr '\n' ' ')
  [ "$(wc -w <<<"$voters")" -eq "$NODES" ] || fail "describe --status: CurrentVoters has $(wc -w <<<"$voters") entries ($voters), want $NODES: $(field CurrentVoters)"
  [[ "$leader" =~ ^[0-9]+$ ]] && grep -qw "$leader" <<<"$voters" || fail "describe --status: LeaderId '$leader' is not one of the voters ($voters)"
  [[ "$hw" =~ ^[0-9]+$ ]] && [ "$hw" -gt 0 ] || fail "describe --status: HighWatermark '$hw', want above 0"
  # describe --replication: a header, then NodeId DirectoryId LogEndOffset
  # Lag LastFetchTimestamp LastCaughtUpTimestamp Status per replica.
  tool $QUORUM --bootstrap-server "$B" describe --replication >"$TMP/r" 2>&1 || fail "describe --replication: $(why "$TMP/r")"
  head -1 "$TMP/r" | grep -q '^NodeId' || fail "describe --replication: no NodeId header: $(head -1 "$TMP/r" | cut -c1-200)"
  rows=$(awk '$NF == "Leader" || $NF == "Follower" { print $1 }' "$TMP/r" | sort -n | tr '\n' ' ')
  [ "$rows" = "$voters" ] || fail "describe --replication: voter rows for nodes '$rows', want '$voters': $(tr '\n\t' '  ' <"$TMP/r" | tr -s ' ' | cut -c1-300)"
  lead=$(awk '$NF == "Leader" { print $1 }' "$TMP/r" | tr '\n' ' ')
  [ "$lead" = "$leader " ] || fail "describe --replication: Leader row(s) '$lead', want node $leader"
  ok "describe --status: leader $leader, voters ${voters% }, high watermark $hw; --replication: a row for each voter, the leader's says Leader"
  ;;
broker-api-versions)
  # kafka-broker-api-versions.sh: per broker "host:port (id: N rack: R
  # isFenced: false) -> (" and then one line per API.
  tool $API_VERSIONS --bootstrap-server "$B" >"$TMP/o" 2>&1 || fail "kafka-broker-api-versions: $(why "$TMP/o")"
  ids=$(sed -n 's/^[^[:space:]].* (id: \([0-9]*\) .*) -> ($/\1/p' "$TMP/o" | sort -n | tr '\n' ' ')
  [ "$(wc -w <<<"$ids")" -eq "$NODES" ] || fail "lists $(wc -w <<<"$ids") brokers (ids: $ids), want $NODES: $(head -1 "$TMP/o" | cut -c1-200)"
  [ "$(sort -u <<<"${ids// /$'\n'}" | grep -c .)" -eq "$NODES" ] || fail "broker ids repeat: $ids"
  grep -q 'isFenced: true' "$TMP/o" && fail "a broker is fenced: $(grep 'isFenced: true' "$TMP/o" | head -1)"
  for api in 'Produce(0)' 'Fetch(1)' 'Metadata(3)' 'ApiVersions(18)'; do
    [ "$(grep -cF "	$api: " "$TMP/o")" -eq "$NODES" ] || fail "$api is listed for $(grep -cF "	$api: " "$TMP/o") of $NODES brokers"
  done
  ok "lists brokers ${ids% }, each with its API versions ($(grep -cF '[usable: ' "$TMP/o") usable APIs in all)"
  ;;
topic-leaders)
  # kafka-topics.sh --describe of a topic with 6 partitions: a leader on
  # every broker (partitions spread over the cluster).
  create "$t" 6
  deadline=$((SECONDS + WAIT))
  while :; do
    tool $TOPICS --bootstrap-server "$B" --describe --topic "$t" >"$TMP/o" 2>&1
    leaders=$(sed -n 's/.*Partition: [0-9]*[[:space:]]*Leader: \([0-9]*\)[[:space:]].*/\1/p' "$TMP/o")
    [ "$(grep -c . <<<"$leaders")" -eq 6 ] && break
    [ $SECONDS -gt $deadline ] && fail "--describe shows $(grep -c . <<<"$leaders") partitions with a leader of 6 after ${WAIT}s: $(tr '\n\t' '  ' <"$TMP/o" | tr -s ' ' | cut -c1-300)"
    sleep 1
  done
  distinct=$(sort -nu <<<"$leaders" | tr '\n' ' ')
  [ "$(wc -w <<<"$distinct")" -eq "$NODES" ] || fail "--describe: the 6 partitions' leaders are on brokers ${distinct% }, want $NODES brokers: $(grep -o 'Partition: [0-9]*[[:space:]]*Leader: [0-9]*' "$TMP/o" | tr '\t\n' ' ,')"
  ok "kafka-topics --describe: 6 partitions, leaders on brokers ${distinct% } ($(tr '\n' ' ' <<<"$leaders"| sed 's/ $//'))"
  ;;
*)
  fail "unknown scenario '${1:-}'"
  ;;
esac
