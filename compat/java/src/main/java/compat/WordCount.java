package compat;

import java.nio.file.Files;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * Kafka Streams word count with a state store, its changelog topic and
 * processing.guarantee=exactly_once_v2. Passes when the output topic, read
 * with read_committed, holds the right final count of every word, the store
 * answers the same counts, and the changelog topic exists.
 */
public final class WordCount {
    static final String STORE = "counts";

    public static void main(String[] args) {
        String scenario = args.length == 1 ? args[0] : "";
        try {
            String detail = switch (scenario) {
                case "version" -> Clients.version();
                case "wordcount-eos" -> run();
                default -> throw new Clients.Failure("unknown scenario " + scenario);
            };
            System.out.println("ok: " + detail);
            System.exit(0);
        } catch (Throwable t) {
            System.out.println("fail: " + Clients.reason(t));
            System.exit(1);
        }
    }

    static String run() throws Exception {
        String app = "compat-wordcount-" + Clients.RUN;
        String input = app + "-input", output = app + "-output";
        Clients.createTopic(input, 2);
        Clients.createTopic(output, 2);
        String[] lines = {"the quick brown fox", "jumps over the lazy dog", "the dog sleeps", "a fox and a dog"};
        Map<String, Long> want = new HashMap<>();
        try (KafkaProducer<String, String> p = new KafkaProducer<>(Clients.producerProps())) {
            for (int i = 0; i < lines.length; i++) {
                p.send(new ProducerRecord<>(input, "line-" + i, lines[i])).get(30, TimeUnit.SECONDS);
                for (String w : lines[i].split(" ")) {
                    want.merge(w, 1L, Long::sum);
                }
            }
        }

        StreamsBuilder b = new StreamsBuilder();
        b.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                .flatMapValues(v -> List.of(v.toLowerCase().split(" ")))
                .groupBy((k, w) -> w)
                .count(Materialized.as(STORE))
                .toStream()
                .to(output, Produced.with(Serdes.String(), Serdes.Long()));
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, app);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, Clients.BOOTSTRAP);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("compat-streams").toString());
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "200");
        // replication.factor stays -1 (the default): Streams creates its
        // changelog and repartition topics with the broker's
        // default.replication.factor, checked below.
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, "1");
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
        props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

        AtomicReference<Throwable> crashed = new AtomicReference<>();
        KafkaStreams streams = new KafkaStreams(b.build(), props);
        try {
            streams.setUncaughtExceptionHandler(e -> {
                crashed.set(e);
                return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
            });
            streams.start();
            Map<String, Long> got = readCounts(output, want, crashed, streams);
            if (!got.equals(want)) {
                throw new Clients.Failure("output counts " + got + ", want " + want);
            }
            ReadOnlyKeyValueStore<String, Long> store = streams.store(
                    StoreQueryParameters.fromNameAndType(STORE, QueryableStoreTypes.keyValueStore()));
            for (Map.Entry<String, Long> e : want.entrySet()) {
                Long v = store.get(e.getKey());
                if (!e.getValue().equals(v)) {
                    throw new Clients.Failure("state store says " + e.getKey() + "=" + v + ", want " + e.getValue());
                }
            }
        } finally {
            // bounded: a stream thread stuck in initTransactions never ends by itself
            streams.close(Duration.ofSeconds(10));
        }
        String changelog = app + "-" + STORE + "-changelog";
        try (Admin admin = Clients.newAdmin()) {
            Set<String> names = admin.listTopics().names().get(30, TimeUnit.SECONDS);
            if (!names.contains(changelog)) {
                throw new Clients.Failure("changelog topic " + changelog + " missing");
            }
            // created with replication.factor -1: the broker's default, COMPAT_RF in the matrix
            Clients.checkReplicas(admin.describeTopics(List.of(changelog)).allTopicNames()
                    .get(Clients.WAIT.toSeconds() + 5, TimeUnit.SECONDS).get(changelog));
        }
        return want.size() + " words counted exactly once; state store and " + STORE + " changelog (" + Clients.RF
                + " replicas, the broker's default) agree";
    }

    /** Reads the output with read_committed until every word has its final count. */
    static Map<String, Long> readCounts(String topic, Map<String, Long> want, AtomicReference<Throwable> crashed, KafkaStreams streams)
            throws Exception {
        Properties p = Clients.consumerProps("read_committed");
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, LongDeserializer.class.getName());
        Map<String, Long> got = new HashMap<>();
        long deadline = System.nanoTime() + 3 * Clients.WAIT.toNanos();
        try (KafkaConsumer<String, Long> c = new KafkaConsumer<>(p, new StringDeserializer(), new LongDeserializer())) {
            List<TopicPartition> tps = List.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1));
            c.assign(tps);
            c.seekToBeginning(tps);
            while (!got.equals(want)) {
                if (crashed.get() != null) {
                    throw new Clients.Failure("streams thread died: " + Clients.reason(crashed.get()));
                }
                if (System.nanoTime() > deadline) {
                    throw new Clients.Failure("after " + 3 * Clients.WAIT.toSeconds() + "s (streams state " + streams.state()
                            + ") the output holds " + got.size() + " of " + want.size() + " final counts: " + got);
                }
                for (ConsumerRecord<String, Long> r : c.poll(Duration.ofMillis(200))) {
                    got.put(r.key(), r.value());
                }
            }
        }
        return got;
    }
}
