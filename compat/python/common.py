"""Scenario logic shared by the Python clients of the compatibility suite.

Each client module (confluent_kafka_scenarios.py, kafka_python_scenarios.py)
supplies an adapter with the primitives below and calls main(adapter). The
scenario's verdict is the last line printed: "ok: ...", "fail: ..." or
"n/a: ...", with exit code 0, 1 or 3 (see compat/README.md).
"""

import os
import sys
import threading
import time
import traceback

BOOTSTRAP = os.environ.get("COMPAT_BOOTSTRAP", "127.0.0.1:9092")
RUN = os.environ.get("COMPAT_RUN", str(int(time.time())))
WAIT = float(os.environ.get("COMPAT_WAIT_SECONDS", "25"))
# The replication factor every scenario creates its topics with (3 against a
# 3-node cluster).
RF = int(os.environ.get("COMPAT_RF", "1"))


class Failure(Exception):
    """A scenario's own verdict, already phrased as a reason."""


class NotApplicable(Exception):
    """The client has no way to run the scenario."""


def poll(cond, what, members=()):
    """Calls cond until it is true, a member failed, or WAIT passes."""
    deadline = time.time() + WAIT
    while True:
        for m in members:
            if m.error:
                raise Failure("group member: %s" % m.error)
        if cond():
            return
        if time.time() > deadline:
            raise Failure("%s: not within %ds" % (what, WAIT))
        time.sleep(0.05)


def same_in_order(want, got):
    for i in range(max(len(want), len(got))):
        w = "%s=%s" % want[i] if i < len(want) else "nothing"
        g = "%s=%s" % (got[i][0], got[i][1]) if i < len(got) else "nothing"
        if w != g:
            raise Failure("record %d is %s, want %s (%d read, %d expected)" % (i, g, w, len(got), len(want)))


class Member:
    """One consumer group member polling in its own thread.

    The adapter's member_loop(member) runs in the thread: it must add values
    with member.seen(value), keep member.assigned current, stop polling when
    member.stop is set, commit, set member.committed, then wait for
    member.close before closing the consumer (so that a member leaving does
    not rebalance the other before it has committed).
    """

    def __init__(self, adapter, group, topic, kip848):
        self.group, self.topic, self.kip848 = group, topic, kip848
        self.values = {}
        self.assigned = 0
        self.error = None
        self.stop = threading.Event()
        self.committed = threading.Event()
        self.close = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, args=(adapter,), daemon=True)
        self.thread.start()

    def _run(self, adapter):
        try:
            adapter.member_loop(self)
        except Exception as e:  # reported by the scenario thread
            self.error = reason(e)
        finally:
            self.committed.set()

    def seen(self, value):
        with self.lock:
            self.values[value] = self.values.get(value, 0) + 1

    def snapshot(self):
        with self.lock:
            return dict(self.values)

    def stop_and_commit(self):
        self.stop.set()
        if not self.committed.wait(WAIT + 10):
            raise Failure("member did not commit within %ds" % WAIT)
        if self.error:
            raise Failure("group member: %s" % self.error)

    def shutdown(self):
        self.stop.set()
        self.close.set()
        self.thread.join(WAIT + 10)


class Scenarios:
    def __init__(self, adapter, name):
        self.a = adapter
        self.prefix = "compat-" + name + "-"

    def topic(self, name):
        return self.prefix + name + "-" + RUN

    def create(self, topic, partitions):
        try:
            self.a.create_topic(topic, partitions, {})
        except Exception as e:
            raise Failure("create topic %s: %s" % (topic, reason(e)))

    def admin(self):
        topic = self.topic("admin")
        self.a.create_topic(topic, 3, {"retention.ms": "3600000"})
        # In a cluster the broker asked may learn of the topic a moment
        # after the controller created it (as in Kafka): listed within WAIT.
        poll(lambda: topic in self.a.list_topics(), "created topic missing from the topic list")
        parts = self.a.describe_partitions(topic)
        if len(parts) != 3:
            raise Failure("describe topic: %d partitions, want 3" % len(parts))
        for replicas in parts:
            if len(set(replicas)) != RF:
                raise Failure("describe topic: a partition's replicas are %s, want %d distinct brokers (COMPAT_RF)" % (replicas, RF))
        v = self.a.describe_config(topic, "retention.ms")
        if v != "3600000":
            raise Failure("describe configs: retention.ms=%r, want 3600000" % v)
        self.a.delete_topic(topic)
        poll(lambda: topic not in self.a.list_topics(), "deleted topic still listed")
        return "create, list, describe (%d replicas each), describe configs, delete" % RF

    def produce(self):
        topic = self.topic("produce")
        self.create(topic, 1)
        want = []
        for codec in self.a.codecs:
            batch = [("k%d" % i, "%s-%d" % (codec, i)) for i in range(10)]
            try:
                self.a.produce(topic, [(k, v, None) for k, v in batch], codec=codec)
            except Exception as e:
                raise Failure("produce with %s: %s" % (codec, reason(e)))
            want += batch
        got = self.a.read_all(topic, False, len(want))
        same_in_order(want, got)
        return ",".join(self.a.codecs)

    def consume(self):
        topic = self.topic("consume")
        self.create(topic, 3)
        recs = [("key-%d" % (i % 7), "value-%d" % i, {"idx": str(i)}) for i in range(30)]
        sent = self.a.produce(topic, recs)  # [(partition, offset)]
        want = {}
        for (k, v, h), pos in zip(recs, sent):
            want[pos] = "%s|%s|%s" % (k, v, h["idx"])
        got = {}
        for k, v, part, off, hdrs in self.a.read_all(topic, False, len(recs), full=True):
            got[(part, off)] = "%s|%s|%s" % (k, v, hdrs.get("idx", "no-header"))
        for pos, w in want.items():
            if got.get(pos) != w:
                raise Failure("at partition/offset %s read %r, want %r (%d read, %d sent)" % (pos, got.get(pos), w, len(got), len(want)))
        if len(got) != len(want):
            raise Failure("read %d records, sent %d" % (len(got), len(want)))
        return "30 records over 3 partitions, keys, values, headers and offsets match"

    def group(self, kip848):
        proto = "consumer" if kip848 else "classic"
        topic = self.topic("group-" + proto)
        group = self.prefix + proto + "-" + RUN
        self.create(topic, 4)
        a = Member(self.a, group, topic, kip848)
        b = Member(self.a, group, topic, kip848)
        try:
            poll(lambda: a.assigned > 0 and b.assigned > 0 and a.assigned + b.assigned == 4,
                 "two members splitting the 4 partitions (a=%d, b=%d)" % (a.assigned, b.assigned), (a, b))
            self.a.produce(topic, [("k%d" % i, "value-%d" % i, None) for i in range(40)])
            poll(lambda: len(set(a.snapshot()) | set(b.snapshot())) == 40,
                 "group consuming 40 records", (a, b))
            if not a.snapshot() or not b.snapshot():
                raise Failure("one member consumed nothing")
            a.stop_and_commit()
            b.stop_and_commit()
        finally:
            a.shutdown()
            b.shutdown()
        self.a.produce(topic, [("k%d" % i, "value-%d" % i, None) for i in range(40, 50)])
        c = Member(self.a, group, topic, kip848)
        try:
            poll(lambda: len(c.snapshot()) >= 10, "resumed member reading the 10 new records", (c,))
            time.sleep(0.5)  # a record beyond the ten would show up here
            got = sorted(c.snapshot(), key=lambda v: int(v.split("-")[1]))
        finally:
            c.shutdown()
        if got != ["value-%d" % i for i in range(40, 50)]:
            raise Failure("resumed member read %d records %s, want the 10 produced after the commit" % (len(got), got[:4]))
        return "2 members split 4 partitions, committed, a new member resumed at the commit"

    def idempotent(self):
        topic = self.topic("idempotent")
        self.create(topic, 1)
        recs = [("k%d" % i, "value-%d" % i, None) for i in range(100)]
        sent = self.a.produce(topic, recs, idempotent=True)
        for i, (_, off) in enumerate(sent):
            if off != i:
                raise Failure("record %d acknowledged at offset %d" % (i, off))
        same_in_order([(k, v) for k, v, _ in recs], self.a.read_all(topic, False, len(recs)))
        return "100 records, offsets 0..99, no duplicates"

    def txn(self):
        topic = self.topic("txn")
        self.create(topic, 1)
        want = []
        p = self.a.txn_producer(self.prefix + "txn-" + RUN)
        try:
            for name, commit in (("commit1", True), ("abort", False), ("commit2", True)):
                recs = [("k%d" % i, "%s-%d" % (name, i)) for i in range(5)]
                p.begin()
                p.produce(topic, recs)
                p.end(commit)
                if commit:
                    want += recs
        finally:
            p.close()
        same_in_order(want, self.a.read_all(topic, True, len(want)))
        return "commit, abort, commit; read_committed sees only the 10 committed"


def reason(e):
    if isinstance(e, (Failure, NotApplicable)):
        return str(e)
    msg = str(e).strip().splitlines()
    return type(e).__name__ + (": " + msg[0] if msg else "")


def main(adapter, name):
    if len(sys.argv) != 2:
        print("fail: usage: %s admin|produce|consume|group|group-consumer|idempotent|txn|version" % sys.argv[0])
        sys.exit(2)
    s = Scenarios(adapter, name)
    scenario = sys.argv[1]
    runs = {
        "version": lambda: adapter.version(),
        "admin": s.admin,
        "produce": s.produce,
        "consume": s.consume,
        "group": lambda: s.group(False),
        "group-consumer": lambda: s.group(True),
        "idempotent": s.idempotent,
        "txn": s.txn,
    }
    if scenario not in runs:
        print("fail: unknown scenario " + scenario)
        sys.exit(2)
    try:
        adapter.lacks(scenario)
        detail = runs[scenario]()
    except NotApplicable as e:
        print("n/a: " + str(e), flush=True)
        os._exit(3)
    except Exception as e:
        if not isinstance(e, Failure):
            traceback.print_exc()
        print("fail: " + reason(e), flush=True)
        os._exit(1)
    print("ok: " + detail, flush=True)
    os._exit(0)  # do not wait for client threads still winding down
