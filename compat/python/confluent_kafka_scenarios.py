"""Compatibility scenarios for confluent-kafka (Python), librdkafka underneath."""

import confluent_kafka
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from common import BOOTSTRAP, RF, WAIT, Failure, main


def conf(**extra):
    c = {"bootstrap.servers": BOOTSTRAP, "socket.timeout.ms": 10000}
    c.update({k.replace("_", "."): v for k, v in extra.items()})
    return c


class Adapter:
    codecs = ["none", "gzip", "snappy", "lz4", "zstd"]

    def version(self):
        v = confluent_kafka.version()
        return "%s (librdkafka %s)" % (v if isinstance(v, str) else v[0], confluent_kafka.libversion()[0])

    def lacks(self, scenario):
        pass

    def admin(self):
        return AdminClient(conf())

    def create_topic(self, topic, partitions, configs):
        adm = self.admin()  # keep the handle alive until the future resolves
        fs = adm.create_topics([NewTopic(topic, partitions, RF, config=configs)], operation_timeout=WAIT, request_timeout=WAIT)
        fs[topic].result(WAIT + 5)

    def list_topics(self):
        return set(self.admin().list_topics(timeout=WAIT).topics)

    def describe_partitions(self, topic):
        from confluent_kafka import TopicCollection
        adm = self.admin()
        fs = adm.describe_topics(TopicCollection([topic]), request_timeout=WAIT)
        return [[n.id for n in p.replicas] for p in fs[topic].result(WAIT + 5).partitions]

    def describe_config(self, topic, key):
        res = ConfigResource(ConfigResource.Type.TOPIC, topic)
        adm = self.admin()
        cfg = adm.describe_configs([res], request_timeout=WAIT)[res].result(WAIT + 5)
        if key not in cfg:
            raise Failure("%s missing from describe configs" % key)
        return cfg[key].value

    def delete_topic(self, topic):
        adm = self.admin()
        adm.delete_topics([topic], operation_timeout=WAIT, request_timeout=WAIT)[topic].result(WAIT + 5)

    def produce(self, topic, recs, codec=None, idempotent=False):
        extra = {"linger.ms": 20, "enable.idempotence": idempotent, "message.timeout.ms": int(WAIT * 1000)}
        if codec:
            extra["compression.codec"] = codec
        if idempotent:
            extra["batch.size"] = 200
        p = Producer(conf(**extra))
        return self._send(p, topic, recs)

    def _send(self, p, topic, recs):
        out = [None] * len(recs)
        errors = []

        def report(i):
            def cb(err, msg):
                if err is not None:
                    errors.append(err)
                else:
                    out[i] = (msg.partition(), msg.offset())
            return cb

        for i, r in enumerate(recs):
            k, v = r[0], r[1]
            h = r[2] if len(r) > 2 else None
            p.produce(topic, key=k, value=v, headers=list(h.items()) if h else None, on_delivery=report(i))
            p.poll(0)
        left = p.flush(WAIT + 5)
        if errors:
            raise KafkaException(errors[0])
        if left:
            raise Failure("%d records not delivered within %ds" % (left, WAIT))
        return out

    def read_all(self, topic, read_committed, want, full=False):
        c = Consumer(conf(**{"group.id": "compat-confluent-reader", "enable.auto.commit": False,
                             "isolation.level": "read_committed" if read_committed else "read_uncommitted"}))
        try:
            md = c.list_topics(topic, timeout=WAIT)
            parts = md.topics[topic].partitions
            c.assign([TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING) for p in parts])
            out = []
            import time
            deadline, grace = time.time() + WAIT, None
            while True:
                m = c.poll(0.1)
                if m is not None:
                    if m.error():
                        if m.error().fatal() or m.error().code() == confluent_kafka.KafkaError.UNKNOWN_TOPIC_OR_PART:
                            raise KafkaException(m.error())
                    else:
                        hdrs = {k: v.decode() for k, v in (m.headers() or [])}
                        key = m.key().decode() if m.key() is not None else None
                        val = m.value().decode() if m.value() is not None else None
                        out.append((key, val, m.partition(), m.offset(), hdrs) if full else (key, val))
                if len(out) >= want and grace is None:
                    grace = time.time() + 0.3
                if grace is not None and time.time() > grace:
                    return out
                if time.time() > deadline:
                    raise Failure("read %d of %d records within %ds" % (len(out), want, WAIT))
        finally:
            c.close()

    def member_loop(self, m):
        extra = {"group.id": m.group, "enable.auto.commit": False, "auto.offset.reset": "earliest"}
        if m.kip848:
            extra["group.protocol"] = "consumer"
        c = Consumer(conf(**extra))

        def on_assign(_, parts):
            m.assigned += len(parts)

        def on_revoke(_, parts):
            m.assigned -= len(parts)

        c.subscribe([m.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
        try:
            while not m.stop.is_set():
                msg = c.poll(0.1)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().fatal():
                        raise KafkaException(msg.error())
                    continue
                m.seen(msg.value().decode())
            try:
                c.commit(asynchronous=False)
            except KafkaException as e:
                if e.args[0].code() != confluent_kafka.KafkaError._NO_OFFSET:
                    raise
            m.committed.set()
            m.close.wait(WAIT + 10)
        finally:
            c.close()

    def txn_producer(self, txn_id):
        return Txn(txn_id, self)


class Txn:
    def __init__(self, txn_id, adapter):
        self.a = adapter
        self.p = Producer(conf(**{"transactional.id": txn_id, "transaction.timeout.ms": 30000}))
        self.p.init_transactions(WAIT)

    def begin(self):
        self.p.begin_transaction()

    def produce(self, topic, recs):
        self.a._send(self.p, topic, recs)

    def end(self, commit):
        if commit:
            self.p.commit_transaction(WAIT)
        else:
            self.p.abort_transaction(WAIT)

    def close(self):
        self.p.flush(1)


if __name__ == "__main__":
    main(Adapter(), "confluent-kafka-python")
