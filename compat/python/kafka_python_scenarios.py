"""Compatibility scenarios for kafka-python."""

import time

import kafka
from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

from common import BOOTSTRAP, RF, WAIT, Failure, NotApplicable, main

TIMEOUT_MS = int(WAIT * 1000)


class Adapter:
    codecs = ["none", "gzip", "snappy", "lz4", "zstd"]

    def version(self):
        return kafka.__version__

    def lacks(self, scenario):
        if scenario == "group-consumer":
            raise NotApplicable("kafka-python has no KIP-848 consumer protocol")

    def admin(self):
        return KafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=TIMEOUT_MS)

    def create_topic(self, topic, partitions, configs):
        adm = self.admin()
        try:
            adm.create_topics([NewTopic(topic, partitions, RF, topic_configs=configs)], timeout_ms=TIMEOUT_MS)
        finally:
            adm.close()

    def list_topics(self):
        adm = self.admin()
        try:
            return set(adm.list_topics())
        finally:
            adm.close()

    def describe_partitions(self, topic):
        # In a cluster the broker asked may learn of a topic just created
        # through another one a moment later (as in Kafka): an unknown
        # topic (error code 3) is asked again until WAIT runs out.
        deadline = time.time() + WAIT
        while True:
            adm = self.admin()
            try:
                ds = adm.describe_topics([topic])
            finally:
                adm.close()
            for d in ds:
                name = d.get("topic") or d.get("name")
                if name != topic:
                    continue
                code = d.get("error_code") or 0
                if code == 3 and time.time() < deadline:
                    break
                if code:
                    raise Failure("describe topic: error code %d" % code)
                return [p["replica_nodes"] for p in d["partitions"]]
            else:
                raise Failure("topic missing from describe_topics")
            time.sleep(0.1)

    def describe_config(self, topic, key):
        adm = self.admin()
        try:
            res = adm.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        finally:
            adm.close()
        return _find_config(res, key)

    def delete_topic(self, topic):
        adm = self.admin()
        try:
            adm.delete_topics([topic], timeout_ms=TIMEOUT_MS)
        finally:
            adm.close()

    def produce(self, topic, recs, codec=None, idempotent=False):
        kw = dict(bootstrap_servers=BOOTSTRAP, linger_ms=20, acks="all", request_timeout_ms=10000, max_block_ms=TIMEOUT_MS,
                  enable_idempotence=idempotent)
        if codec and codec != "none":
            kw["compression_type"] = codec
        if idempotent:
            kw["batch_size"] = 200
        p = KafkaProducer(**kw)
        try:
            return _send(p, topic, recs)
        finally:
            p.close(timeout=5)

    def read_all(self, topic, read_committed, want, full=False):
        c = KafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False, group_id=None,
                          isolation_level="read_committed" if read_committed else "read_uncommitted")
        try:
            deadline = time.time() + WAIT
            parts = None
            while not parts:
                parts = c.partitions_for_topic(topic)
                if time.time() > deadline:
                    raise Failure("no partitions known for %s" % topic)
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            c.assign(tps)
            c.seek_to_beginning(*tps)
            out, grace = [], None
            while True:
                for recs in c.poll(timeout_ms=100).values():
                    for r in recs:
                        key = r.key.decode() if r.key is not None else None
                        val = r.value.decode() if r.value is not None else None
                        hdrs = {k: v.decode() for k, v in (r.headers or [])}
                        out.append((key, val, r.partition, r.offset, hdrs) if full else (key, val))
                if len(out) >= want and grace is None:
                    grace = time.time() + 0.3
                if grace is not None and time.time() > grace:
                    return out
                if time.time() > deadline:
                    raise Failure("read %d of %d records within %ds" % (len(out), want, WAIT))
        finally:
            c.close()

    def member_loop(self, m):
        c = KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=m.group, enable_auto_commit=False,
                          auto_offset_reset="earliest", request_timeout_ms=TIMEOUT_MS + 5000)

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                m.assigned -= len(revoked)

            def on_partitions_assigned(self, assigned):
                m.assigned += len(assigned)

        c.subscribe([m.topic], listener=Listener())
        try:
            while not m.stop.is_set():
                for recs in c.poll(timeout_ms=100).values():
                    for r in recs:
                        m.seen(r.value.decode())
            c.commit()
            m.committed.set()
            m.close.wait(WAIT + 10)
        finally:
            c.close()

    def txn_producer(self, txn_id):
        return Txn(txn_id)


class Txn:
    def __init__(self, txn_id):
        self.p = KafkaProducer(bootstrap_servers=BOOTSTRAP, transactional_id=txn_id, enable_idempotence=True,
                               transaction_timeout_ms=30000, request_timeout_ms=10000,
                               max_block_ms=TIMEOUT_MS)
        self.p.init_transactions()

    def begin(self):
        self.p.begin_transaction()

    def produce(self, topic, recs):
        _send(self.p, topic, recs)

    def end(self, commit):
        if commit:
            self.p.commit_transaction()
        else:
            self.p.abort_transaction()

    def close(self):
        self.p.close(timeout=5)


def _send(p, topic, recs):
    futures = []
    for r in recs:
        k, v = r[0], r[1]
        h = r[2] if len(r) > 2 else None
        futures.append(p.send(topic, key=k.encode(), value=v.encode(),
                              headers=[(hk, hv.encode()) for hk, hv in h.items()] if h else None))
    p.flush(timeout=WAIT)
    out = []
    for f in futures:
        md = f.get(timeout=WAIT)
        out.append((md.partition, md.offset))
    return out


def _find_config(res, key):
    """Digs key's value out of describe_configs' result, whatever its shape."""
    def walk(x):
        if isinstance(x, dict):
            if key in x:
                v = x[key]
                return v.get("value") if isinstance(v, dict) else v
            if x.get("name") == key or x.get("config_names") == key:
                return x.get("value") or x.get("config_value")
            for v in x.values():
                r = walk(v)
                if r is not None:
                    return r
        elif isinstance(x, (list, tuple)):
            if len(x) >= 2 and x[0] == key and isinstance(x[1], (str, type(None))):
                return x[1]
            for v in x:
                r = walk(v)
                if r is not None:
                    return r
        elif hasattr(x, "to_object"):
            return walk(x.to_object())
        return None
    v = walk(res)
    if v is None:
        raise Failure("%s missing from describe configs" % key)
    return v


if __name__ == "__main__":
    main(Adapter(), "kafka-python")
