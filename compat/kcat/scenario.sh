#!/usr/bin/env bash
# Compatibility scenarios for kcat (librdkafka from Debian). kcat has no admin
# operations, so topics with several partitions are created with Samsa's own
# CLI (compat/out/samsa, built by the runner); everything measured goes
# through kcat. Prints "ok: ...", "fail: ..." or "n/a: ..." last; exit 0, 1, 3.
set -uo pipefail

B=${COMPAT_BOOTSTRAP:-127.0.0.1:9092}
RUN=${COMPAT_RUN:-$(date +%s)}
WAIT=${COMPAT_WAIT_SECONDS:-25}
ROOT=${COMPAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
RF=${COMPAT_RF:-1} # replication factor of the topics (3 against a 3-node cluster)
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT

ok() { echo "ok: $*"; exit 0; }
fail() { echo "fail: $*"; exit 1; }
na() { echo "n/a: $*"; exit 3; }

# kcat with bounded waits; librdkafka errors go to stderr (kept in the log).
K() { timeout $((WAIT + 10)) kcat -b "$B" -X socket.timeout.ms=10000 -X message.timeout.ms=$((WAIT * 1000)) "$@"; }
KC() { timeout $((WAIT + 10)) kcat -b "$B" -X socket.timeout.ms=10000 "$@"; }

create() { # topic partitions
  "$ROOT/compat/out/samsa" topic create "$1" -p "$2" -r "$RF" -b "$B" --timeout "${WAIT}s" >/dev/null 2>"$TMP/create.err" ||
    fail "create topic $1 with Samsa's CLI: $(tail -1 "$TMP/create.err")"
}

# read_all topic count: every record from the beginning as "partition offset key value".
read_all() {
  KC -C -t "$1" -o beginning -e -q -f '%p %o %k %s\n' >"$TMP/read.out" 2>"$TMP/read.err" ||
    fail "consume $1: $(grep -v '^%' "$TMP/read.err" | tail -1)$(tail -1 "$TMP/read.err")"
  local n
  n=$(wc -l <"$TMP/read.out")
  [ "$n" -eq "$2" ] || fail "read $n records of $1, want $2$(head -c 200 "$TMP/read.err" | tr '\n' ' ' | sed 's/^/ (/;s/$/)/')"
}

topic() { echo "compat-kcat-$1-$RUN"; }

scenario=${1:-}
case "$scenario" in
version)
  ok "$(kcat -V 2>&1 | sed -n 's/^Version \([^ ]*\).*librdkafka \([^ ]*\).*/\1 (librdkafka \2)/p')"
  ;;
admin)
  na "kcat has no admin operations (create, describe or delete topics)"
  ;;
produce)
  t=$(topic produce)
  create "$t" 1
  : >"$TMP/want"
  for codec in none gzip snappy lz4 zstd; do
    for i in $(seq 0 9); do echo "k$i:$codec-$i"; done >"$TMP/in"
    K -P -t "$t" -p 0 -K: -z "$codec" -X linger.ms=20 <"$TMP/in" 2>"$TMP/p.err" || fail "produce with $codec: $(tail -1 "$TMP/p.err")"
    grep -q 'ERROR\|failed' "$TMP/p.err" && fail "produce with $codec: $(grep 'ERROR\|failed' "$TMP/p.err" | tail -1)"
    sed 's/:/ /' "$TMP/in" >>"$TMP/want"
  done
  read_all "$t" 50
  awk '{print $3" "$4}' "$TMP/read.out" >"$TMP/got"
  diff -q "$TMP/want" "$TMP/got" >/dev/null || fail "read back differs: $(diff "$TMP/want" "$TMP/got" | sed -n 2p)"
  ok "none,gzip,snappy,lz4,zstd"
  ;;
consume)
  t=$(topic consume)
  create "$t" 3
  for i in $(seq 0 29); do echo "key-$((i % 7)):value-$i"; done >"$TMP/in"
  K -P -t "$t" -K: -H src=kcat <"$TMP/in" 2>"$TMP/p.err" || fail "produce: $(tail -1 "$TMP/p.err")"
  KC -C -t "$t" -o beginning -e -q -f '%p %o %k %s %h\n' >"$TMP/read.out" 2>"$TMP/read.err" ||
    fail "consume: $(tail -1 "$TMP/read.err" | grep . || echo "did not reach the end of the partitions within $((WAIT + 10))s; read $(wc -l <"$TMP/read.out") of 30 records")"
  n=$(wc -l <"$TMP/read.out")
  [ "$n" -eq 30 ] || fail "read $n records, want 30"
  # Same keys and values; headers kept; each partition's offsets 0..n-1 with
  # values in production order; each key in one partition only.
  diff <(sed 's/:/ /' "$TMP/in" | sort) <(awk '{print $3" "$4}' "$TMP/read.out" | sort) >/dev/null || fail "consumed keys/values differ from those produced"
  grep -vq ' src=kcat$' "$TMP/read.out" && fail "header src=kcat missing: $(grep -v ' src=kcat$' "$TMP/read.out" | head -1)"
  awk '{ if ($2 != seen[$1]+0) bad="partition " $1 " offset " $2 " out of sequence"; seen[$1]++;
         split($4, v, "-"); if (v[2]+0 < last[$1]+0) bad="partition " $1 " out of order at " $4; last[$1]=v[2];
         if (($3 in kp) && kp[$3] != $1) bad="key " $3 " in two partitions"; kp[$3]=$1 }
       END { if (bad) { print bad; exit 1 } }' "$TMP/read.out" >"$TMP/chk" || fail "$(cat "$TMP/chk")"
  ok "30 records over 3 partitions, keys, values, headers, offsets and order match"
  ;;
group)
  t=$(topic group)
  g="compat-kcat-classic-$RUN"
  create "$t" 4
  member() { # name [extra args]: a balanced consumer committing as it goes
    local name=$1
    shift
    timeout $((WAIT * 3)) kcat -u -b "$B" -G "$g" -X auto.offset.reset=earliest -f '%s\n' -X enable.auto.commit=true -X auto.commit.interval.ms=100 \
      -X session.timeout.ms=10000 "$@" "$t" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  }
  assigned() { grep -q 'assigned: .*\[' "$TMP/$1.err" 2>/dev/null; }
  member a
  pa=$!
  member b
  pb=$!
  deadline=$((SECONDS + WAIT))
  until [ "$(grep -h 'assigned:' "$TMP/a.err" "$TMP/b.err" 2>/dev/null | tail -2 | grep -o '\[[0-9]*\]' | wc -l)" -eq 4 ] && assigned a && assigned b; do
    [ $SECONDS -gt $deadline ] && fail "two members did not split the 4 partitions within ${WAIT}s ($(grep -h 'ERROR\|error' "$TMP/a.err" "$TMP/b.err" | tail -1))"
    kill -0 "$pa" 2>/dev/null || fail "member a exited: $(tail -1 "$TMP/a.err")"
    sleep 0.1
  done
  for i in $(seq 0 39); do echo "k$i:value-$i"; done | K -P -t "$t" -K: 2>"$TMP/p.err" || fail "produce: $(tail -1 "$TMP/p.err")"
  deadline=$((SECONDS + WAIT))
  until [ "$(sort -u "$TMP/a.out" "$TMP/b.out" | grep -c value-)" -eq 40 ]; do
    [ $SECONDS -gt $deadline ] && fail "group consumed $(sort -u "$TMP/a.out" "$TMP/b.out" | grep -c value-) of 40 records within ${WAIT}s"
    sleep 0.1
  done
  [ -s "$TMP/a.out" ] && [ -s "$TMP/b.out" ] || fail "one member consumed nothing"
  kill -TERM "$pa" "$pb" # kcat closes the consumer, committing the offsets it stored
  wait "$pa" "$pb" 2>/dev/null
  for i in $(seq 40 49); do echo "k$i:value-$i"; done | K -P -t "$t" -K: 2>"$TMP/p.err" || fail "produce: $(tail -1 "$TMP/p.err")"
  timeout $((WAIT + 10)) kcat -b "$B" -G "$g" -X auto.offset.reset=earliest -e -f '%s\n' "$t" >"$TMP/c.out" 2>"$TMP/c.err" ||
    fail "resumed member: $(grep -i 'error\|fail' "$TMP/c.err" | tail -1)"
  got=$(sort -t- -k2 -n "$TMP/c.out" | tr '\n' ' ')
  want=$(for i in $(seq 40 49); do printf 'value-%d ' "$i"; done)
  [ "$got" = "$want" ] || fail "resumed member read $(wc -l <"$TMP/c.out") records ($(echo "$got" | cut -c1-60)), want the 10 produced after the commit"
  ok "2 members split 4 partitions, committed, a new member resumed at the commit"
  ;;
group-consumer)
  na "kcat $(kcat -V 2>&1 | sed -n 's/^Version.*librdkafka \([^ ]*\).*/with librdkafka \1/p') predates the KIP-848 consumer protocol"
  ;;
idempotent)
  t=$(topic idempotent)
  create "$t" 1
  for i in $(seq 0 99); do echo "k$i:value-$i"; done >"$TMP/in"
  K -P -t "$t" -p 0 -K: -X enable.idempotence=true -X batch.size=200 <"$TMP/in" 2>"$TMP/p.err" || fail "produce: $(tail -1 "$TMP/p.err")"
  grep -q 'ERROR\|failed' "$TMP/p.err" && fail "produce: $(grep 'ERROR\|failed' "$TMP/p.err" | tail -1)"
  read_all "$t" 100
  diff <(awk -F: '{print NR-1" "$1":"$2}' "$TMP/in") <(awk '{print $2" "$3":"$4}' "$TMP/read.out") >/dev/null ||
    fail "read back differs from the 100 records at offsets 0..99"
  ok "100 records, offsets 0..99, no duplicates"
  ;;
txn)
  na "kcat has no transactional producer"
  ;;
*)
  fail "unknown scenario '$scenario'"
  ;;
esac
