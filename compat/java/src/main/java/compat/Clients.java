package compat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Scenarios for Apache Kafka's Java client (kafka-clients 4.x): admin,
 * produce with every codec, exact consume, consumer groups with the classic
 * and the consumer (KIP-848) protocol, the idempotent producer,
 * transactions, and ListOffsets by timestamp inside a batch. One scenario
 * per process run; the last line printed is
 * "ok: ...", "fail: ..." or "n/a: ..." and the exit code is 0, 1 or 3.
 */
public final class Clients {
    static final String BOOTSTRAP = env("COMPAT_BOOTSTRAP", "127.0.0.1:9092");
    static final String RUN = env("COMPAT_RUN", Long.toString(System.currentTimeMillis()));
    static final Duration WAIT = Duration.ofSeconds(Long.parseLong(env("COMPAT_WAIT_SECONDS", "25")));
    /** The replication factor every scenario creates its topics with (3 against a 3-node cluster). */
    static final short RF = Short.parseShort(env("COMPAT_RF", "1"));
    /** Client-side timeouts follow COMPAT_WAIT_SECONDS so that a dead broker fails a scenario quickly. */
    static final String WAIT_MS = Long.toString(WAIT.toMillis());
    static final String REQUEST_MS = Long.toString(Math.min(10_000, WAIT.toMillis() / 2));
    static final String DELIVERY_MS = Long.toString(WAIT.toMillis() + 1_000);

    public static void main(String[] args) {
        if (args.length != 1) {
            System.out.println("fail: usage: Clients admin|produce|consume|group|group-consumer|idempotent|txn|list-offsets");
            System.exit(2);
        }
        try {
            String detail = switch (args[0]) {
                case "version" -> version();
                case "admin" -> adminScenario();
                case "produce" -> produce();
                case "consume" -> consume();
                case "group" -> group("classic");
                case "group-consumer" -> group("consumer");
                case "idempotent" -> idempotent();
                case "txn" -> txn();
                case "list-offsets" -> listOffsets();
                default -> throw new Failure("unknown scenario " + args[0]);
            };
            System.out.println("ok: " + detail);
            System.exit(0);
        } catch (Throwable t) {
            System.out.println("fail: " + reason(t));
            System.exit(1);
        }
    }

    // ---- scenarios ----

    static String adminScenario() throws Exception {
        String topic = topic("admin");
        try (Admin admin = newAdmin()) {
            admin.createTopics(List.of(new NewTopic(topic, 3, RF)
                    .configs(Map.of("retention.ms", "3600000")))).all().get(WAIT.toSeconds() + 5, TimeUnit.SECONDS);
            if (!admin.listTopics().names().get(WAIT.toSeconds() + 5, TimeUnit.SECONDS).contains(topic)) {
                throw new Failure("created topic missing from listTopics");
            }
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames()
                    .get(WAIT.toSeconds() + 5, TimeUnit.SECONDS).get(topic);
            if (d.partitions().size() != 3) {
                throw new Failure("describeTopics: " + d.partitions().size() + " partitions, want 3");
            }
            checkReplicas(d);
            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            Config cfg = admin.describeConfigs(List.of(res)).all().get(WAIT.toSeconds() + 5, TimeUnit.SECONDS).get(res);
            ConfigEntry e = cfg.get("retention.ms");
            if (e == null || !"3600000".equals(e.value())) {
                throw new Failure("describeConfigs retention.ms=" + (e == null ? "missing" : e.value()) + ", want 3600000");
            }
            admin.deleteTopics(List.of(topic)).all().get(WAIT.toSeconds() + 5, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (admin.listTopics().names().get(WAIT.toSeconds() + 5, TimeUnit.SECONDS).contains(topic)) {
                if (System.nanoTime() > deadline) {
                    throw new Failure("deleted topic still listed after " + WAIT.toSeconds() + "s");
                }
                Thread.sleep(100);
            }
        }
        return "create, list, describe (" + RF + " replicas each), describeConfigs, delete";
    }

    static String produce() throws Exception {
        String topic = topic("produce");
        createTopic(topic, 1);
        String[] codecs = {"none", "gzip", "snappy", "lz4", "zstd"};
        List<String[]> want = new ArrayList<>();
        for (String codec : codecs) {
            Properties p = producerProps();
            p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
            p.put(ProducerConfig.LINGER_MS_CONFIG, "50"); // let records share a compressed batch
            try (KafkaProducer<String, String> prod = new KafkaProducer<>(p)) {
                List<Future<RecordMetadata>> fs = new ArrayList<>();
                for (int i = 0; i < 10; i++) {
                    String k = "k" + i, v = codec + "-" + i;
                    want.add(new String[] {k, v});
                    fs.add(prod.send(new ProducerRecord<>(topic, k, v)));
                }
                for (Future<RecordMetadata> f : fs) {
                    f.get(WAIT.toSeconds() + 5, TimeUnit.SECONDS);
                }
            }
        }
        List<ConsumerRecord<String, String>> got = readAll(topic, "read_uncommitted");
        compareInOrder(want, got);
        return String.join(",", codecs);
    }

    static String consume() throws Exception {
        String topic = topic("consume");
        createTopic(topic, 3);
        Map<String, String> want = new HashMap<>(); // "partition/offset" -> key|value|header
        try (KafkaProducer<String, String> prod = new KafkaProducer<>(producerProps())) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                ProducerRecord<String, String> r = new ProducerRecord<>(topic, "key-" + (i % 7), "value-" + i);
                r.headers().add("idx", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
                fs.add(prod.send(r));
                ids.add("key-" + (i % 7) + "|value-" + i + "|" + i);
            }
            for (int i = 0; i < fs.size(); i++) {
                RecordMetadata md = fs.get(i).get(WAIT.toSeconds() + 5, TimeUnit.SECONDS);
                want.put(md.partition() + "/" + md.offset(), ids.get(i));
            }
        }
        Map<String, String> got = new HashMap<>();
        for (ConsumerRecord<String, String> r : readAll(topic, "read_uncommitted")) {
            Header h = r.headers().lastHeader("idx");
            got.put(r.partition() + "/" + r.offset(), r.key() + "|" + r.value() + "|"
                    + (h == null ? "no-header" : new String(h.value(), StandardCharsets.UTF_8)));
        }
        if (!got.equals(want)) {
            throw new Failure("consumed " + got.size() + " records, want " + want.size() + "; first difference: " + firstDiff(want, got));
        }
        return "30 records over 3 partitions, keys, values, headers and offsets match";
    }

    static String group(String protocol) throws Exception {
        String topic = topic("group-" + protocol);
        String group = "compat-java-" + protocol + "-" + RUN;
        createTopic(topic, 4);
        Member a = new Member(group, protocol, topic), b = new Member(group, protocol, topic);
        Thread ta = new Thread(a, "member-a"), tb = new Thread(b, "member-b");
        ta.start();
        tb.start();
        try {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (a.assigned.isEmpty() || b.assigned.isEmpty()) {
                checkMembers(a, b);
                if (System.nanoTime() > deadline) {
                    throw new Failure("two members did not both get partitions within " + WAIT.toSeconds() + "s (a="
                            + a.assigned + ", b=" + b.assigned + ")");
                }
                Thread.sleep(50);
            }
            produceValues(topic, 0, 40);
            deadline = System.nanoTime() + WAIT.toNanos();
            while (a.values.size() + b.values.size() < 40) {
                checkMembers(a, b);
                if (System.nanoTime() > deadline) {
                    throw new Failure("group consumed " + (a.values.size() + b.values.size()) + " of 40 records within " + WAIT.toSeconds() + "s");
                }
                Thread.sleep(50);
            }
        } finally {
            a.stop = true;
            b.stop = true;
            ta.join(60_000);
            tb.join(60_000);
        }
        checkMembers(a, b);
        Set<String> all = new HashSet<>(a.values.keySet());
        all.addAll(b.values.keySet());
        if (all.size() != 40 || a.values.size() + b.values.size() != 40) {
            throw new Failure("members consumed " + a.values.size() + "+" + b.values.size() + " records, " + all.size() + " distinct, want 40");
        }
        produceValues(topic, 40, 50);
        Member c = new Member(group, protocol, topic);
        Thread tc = new Thread(c, "member-c");
        tc.start();
        try {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (c.values.size() < 10 && System.nanoTime() < deadline) {
                checkMembers(c);
                Thread.sleep(50);
            }
            Thread.sleep(500); // a record beyond the ten would show up here
        } finally {
            c.stop = true;
            tc.join(60_000);
        }
        checkMembers(c);
        Set<String> want = new HashSet<>();
        for (int i = 40; i < 50; i++) {
            want.add("value-" + i);
        }
        if (!c.values.keySet().equals(want)) {
            throw new Failure("resumed member read " + c.values.size() + " records " + sample(c.values.keySet()) + ", want the 10 produced after the commit");
        }
        return "2 members split 4 partitions, committed, a new member resumed at the commit";
    }

    static String idempotent() throws Exception {
        String topic = topic("idempotent");
        createTopic(topic, 1);
        Properties p = producerProps();
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, "200"); // many small batches in flight
        List<String[]> want = new ArrayList<>();
        try (KafkaProducer<String, String> prod = new KafkaProducer<>(p)) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                want.add(new String[] {"k" + i, "value-" + i});
                fs.add(prod.send(new ProducerRecord<>(topic, "k" + i, "value-" + i)));
            }
            for (int i = 0; i < fs.size(); i++) {
                long off = fs.get(i).get(WAIT.toSeconds() + 5, TimeUnit.SECONDS).offset();
                if (off != i) {
                    throw new Failure("record " + i + " acknowledged at offset " + off);
                }
            }
        }
        compareInOrder(want, readAll(topic, "read_uncommitted"));
        return "100 records in many batches, offsets 0..99, no duplicates";
    }

    static String txn() throws Exception {
        String topic = topic("txn");
        createTopic(topic, 1);
        Properties p = producerProps();
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "compat-java-txn-" + RUN);
        p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "30000");
        List<String[]> want = new ArrayList<>();
        try (KafkaProducer<String, String> prod = new KafkaProducer<>(p)) {
            prod.initTransactions();
            String[][] txns = {{"commit1", "c"}, {"abort", "a"}, {"commit2", "c"}};
            for (String[] t : txns) {
                prod.beginTransaction();
                for (int i = 0; i < 5; i++) {
                    prod.send(new ProducerRecord<>(topic, "k" + i, t[0] + "-" + i));
                    if (t[1].equals("c")) {
                        want.add(new String[] {"k" + i, t[0] + "-" + i});
                    }
                }
                prod.flush();
                if (t[1].equals("c")) {
                    prod.commitTransaction();
                } else {
                    prod.abortTransaction();
                }
            }
        }
        compareInOrder(want, readAll(topic, "read_committed"));
        int uncommitted = readAll(topic, "read_uncommitted").size();
        if (uncommitted != 15) {
            throw new Failure("read_uncommitted saw " + uncommitted + " records, want 15 (10 committed + 5 aborted)");
        }
        return "commit, abort, commit; read_committed sees only the 10 committed";
    }

    /**
     * Five records in one lz4 batch (a long linger, then flush), their
     * timestamps not in offset order: +0s, +10s, +30s, +20s, +40s. Kafka
     * answers ListOffsets by timestamp with the first record, in offset
     * order, whose timestamp is at or after the one asked for, inside the
     * batch, with that record's own timestamp; and max timestamp with the
     * record holding the largest.
     */
    static String listOffsets() throws Exception {
        String topic = topic("list-offsets");
        createTopic(topic, 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        long base = System.currentTimeMillis() - 3_600_000L;
        long[] at = {0, 10_000, 30_000, 20_000, 40_000};
        Properties p = producerProps();
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "1000"); // the five sends take far less; flush() sends them
        try (KafkaProducer<String, String> prod = new KafkaProducer<>(p)) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (int i = 0; i < at.length; i++) {
                fs.add(prod.send(new ProducerRecord<>(topic, 0, base + at[i], "k" + i, "value-" + i)));
            }
            prod.flush();
            for (int i = 0; i < fs.size(); i++) {
                long off = fs.get(i).get(WAIT.toSeconds() + 5, TimeUnit.SECONDS).offset();
                if (off != i) {
                    throw new Failure("record " + i + " acknowledged at offset " + off);
                }
            }
        }
        try (Admin admin = newAdmin()) {
            ListOffsetsResultInfo latest = listOffset(admin, tp, OffsetSpec.latest());
            if (latest.offset() != at.length) {
                throw new Failure("latest offset " + latest.offset() + ", want " + at.length);
            }
            Optional<Integer> epoch = latest.leaderEpoch();
            // {asked for, offset, its timestamp}, relative to base
            long[][] cases = {{-5_000, 0, 0}, {10_000, 1, 10_000}, {15_000, 2, 30_000}, {25_000, 2, 30_000}, {35_000, 4, 40_000}};
            for (long[] c : cases) {
                ListOffsetsResultInfo info = listOffset(admin, tp, OffsetSpec.forTimestamp(base + c[0]));
                if (info.offset() != c[1] || info.timestamp() != base + c[2] || !info.leaderEpoch().equals(epoch)) {
                    throw new Failure(String.format("listOffsets forTimestamp(%+dms): offset %d, timestamp %+dms, leader epoch %s; want %d, %+dms, %s",
                            c[0], info.offset(), info.timestamp() - base, info.leaderEpoch(), c[1], c[2], epoch));
                }
            }
            ListOffsetsResultInfo none = listOffset(admin, tp, OffsetSpec.forTimestamp(base + 50_000));
            if (none.offset() != -1) {
                throw new Failure("listOffsets after the last timestamp: offset " + none.offset() + ", want -1");
            }
            ListOffsetsResultInfo max = listOffset(admin, tp, OffsetSpec.maxTimestamp());
            if (max.offset() != 4 || max.timestamp() != base + 40_000) {
                throw new Failure("listOffsets maxTimestamp: offset " + max.offset() + ", timestamp +" + (max.timestamp() - base) + "ms; want 4, +40000ms");
            }
            ListOffsetsResultInfo earliest = listOffset(admin, tp, OffsetSpec.earliest());
            if (earliest.offset() != 0) {
                throw new Failure("earliest offset " + earliest.offset() + ", want 0");
            }
        }
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(consumerProps("read_uncommitted"))) {
            Map<TopicPartition, OffsetAndTimestamp> got = c.offsetsForTimes(Map.of(tp, base + 25_000L), WAIT);
            OffsetAndTimestamp o = got.get(tp);
            if (o == null || o.offset() != 2 || o.timestamp() != base + 30_000) {
                throw new Failure("consumer offsetsForTimes(+25000ms): " + o + ", want offset 2 at +30000ms");
            }
        }
        return "one lz4 batch of 5: by timestamp (Admin, consumer), max timestamp, earliest, latest";
    }

    static ListOffsetsResultInfo listOffset(Admin admin, TopicPartition tp, OffsetSpec spec) throws Exception {
        return admin.listOffsets(Map.of(tp, spec)).partitionResult(tp).get(WAIT.toSeconds() + 5, TimeUnit.SECONDS);
    }

    // ---- helpers ----

    /** kafka-clients' own version, from the properties file its jar carries. */
    static String version() throws Exception {
        Properties p = new Properties();
        try (var in = KafkaProducer.class.getResourceAsStream("/kafka/kafka-version.properties")) {
            if (in != null) {
                p.load(in);
            }
        }
        return p.getProperty("version", "(unknown version)");
    }

    /** One consumer group member, polling in its own thread (KafkaConsumer is single-threaded). */
    static final class Member implements Runnable {
        final String group, protocol, topic;
        final Map<String, Boolean> values = new ConcurrentHashMap<>();
        final Set<TopicPartition> assigned = ConcurrentHashMap.newKeySet();
        final AtomicReference<Throwable> error = new AtomicReference<>();
        volatile boolean stop;

        Member(String group, String protocol, String topic) {
            this.group = group;
            this.protocol = protocol;
            this.topic = topic;
        }

        @Override
        public void run() {
            Properties p = consumerProps("read_uncommitted");
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
            p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
            p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
                c.subscribe(List.of(topic));
                while (!stop) {
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
                        values.put(r.value(), true);
                    }
                    assigned.clear();
                    assigned.addAll(c.assignment());
                }
                c.commitSync(Duration.ofSeconds(20));
            } catch (Throwable t) {
                error.set(t);
            }
        }
    }

    static void checkMembers(Member... ms) throws Exception {
        for (Member m : ms) {
            Throwable t = m.error.get();
            if (t != null) {
                throw new Failure("group member: " + reason(t));
            }
        }
    }

    static String topic(String scenario) {
        return "compat-java-" + scenario + "-" + RUN;
    }

    static Admin newAdmin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, BOOTSTRAP);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_MS);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, WAIT_MS);
        return Admin.create(p);
    }

    /** Fails unless every partition of the topic has RF replicas on distinct brokers. */
    static void checkReplicas(TopicDescription d) throws Failure {
        for (var p : d.partitions()) {
            long brokers = p.replicas().stream().map(n -> n.id()).distinct().count();
            if (brokers != RF) {
                throw new Failure("topic " + d.name() + " partition " + p.partition() + " has replicas " + p.replicas()
                        + ", want " + RF + " distinct brokers (COMPAT_RF)");
            }
        }
    }

    static void createTopic(String topic, int partitions) throws Exception {
        try (Admin admin = newAdmin()) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, RF))).all().get(WAIT.toSeconds() + 5, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new Failure("create topic " + topic + ": " + reason(e));
        }
    }

    /** The producer's default settings (idempotent, acks=all) plus bounded waits. */
    static Properties producerProps() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, BOOTSTRAP);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, DELIVERY_MS);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_MS);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, WAIT_MS);
        return p;
    }

    static Properties consumerProps(String isolation) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, BOOTSTRAP);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, WAIT_MS);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_MS);
        return p;
    }

    static void produceValues(String topic, int from, int to) throws Exception {
        try (KafkaProducer<String, String> prod = new KafkaProducer<>(producerProps())) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (int i = from; i < to; i++) {
                fs.add(prod.send(new ProducerRecord<>(topic, "k" + i, "value-" + i)));
            }
            for (Future<RecordMetadata> f : fs) {
                f.get(WAIT.toSeconds() + 5, TimeUnit.SECONDS);
            }
        }
    }

    /** Reads every partition of topic from the beginning up to its end offset (the LSO under read_committed). */
    static List<ConsumerRecord<String, String>> readAll(String topic, String isolation) throws Exception {
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(consumerProps(isolation))) {
            List<TopicPartition> tps = new ArrayList<>();
            c.partitionsFor(topic, WAIT).forEach(pi -> tps.add(new TopicPartition(topic, pi.partition())));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps, WAIT);
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!reached(c, end)) {
                if (System.nanoTime() > deadline) {
                    throw new Failure("read " + out.size() + " records of " + topic + " but did not reach end offsets " + end.values() + " within " + WAIT.toSeconds() + "s");
                }
                c.poll(Duration.ofMillis(100)).forEach(out::add);
            }
        }
        return out;
    }

    static boolean reached(KafkaConsumer<String, String> c, Map<TopicPartition, Long> end) {
        for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
            if (c.position(e.getKey(), WAIT) < e.getValue()) {
                return false;
            }
        }
        return true;
    }

    static void compareInOrder(List<String[]> want, List<ConsumerRecord<String, String>> got) throws Failure {
        for (int i = 0; i < Math.max(want.size(), got.size()); i++) {
            String w = i < want.size() ? want.get(i)[0] + "=" + want.get(i)[1] : "nothing";
            String g = i < got.size() ? got.get(i).key() + "=" + got.get(i).value() : "nothing";
            if (!w.equals(g)) {
                throw new Failure("record " + i + " is " + g + ", want " + w + " (" + got.size() + " read, " + want.size() + " expected)");
            }
        }
    }

    static String firstDiff(Map<String, String> want, Map<String, String> got) {
        for (Map.Entry<String, String> e : want.entrySet()) {
            if (!e.getValue().equals(got.get(e.getKey()))) {
                return "at " + e.getKey() + " got " + got.get(e.getKey()) + ", want " + e.getValue();
            }
        }
        for (String k : got.keySet()) {
            if (!want.containsKey(k)) {
                return "unexpected record at " + k + ": " + got.get(k);
            }
        }
        return "none";
    }

    static String sample(Collection<String> c) {
        List<String> l = new ArrayList<>(c);
        java.util.Collections.sort(l);
        return l.size() <= 4 ? l.toString() : l.subList(0, 4) + "...";
    }

    static String env(String k, String def) {
        String v = System.getenv(k);
        return v == null || v.isEmpty() ? def : v;
    }

    /** A one-line reason: the failure's message, or the innermost cause's class and message. */
    static String reason(Throwable t) {
        if (t instanceof Failure) {
            return t.getMessage();
        }
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String msg = root.getMessage() == null ? "" : root.getMessage().split("\n")[0];
        return root.getClass().getSimpleName() + (msg.isEmpty() ? "" : ": " + msg);
    }

    /** A scenario's own verdict, already phrased as a reason. */
    static final class Failure extends Exception {
        Failure(String msg) {
            super(msg);
        }
    }
}
