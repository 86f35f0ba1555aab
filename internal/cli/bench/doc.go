// Package bench is the engine behind `samsa bench`: a producer benchmark in
// the manner of kafka-producer-perf-test, a consumer benchmark in the manner
// of kafka-consumer-perf-test, and an end-to-end latency benchmark. All three
// speak the Kafka protocol through franz-go, so they measure any
// Kafka-compatible cluster.
//
// # Producer
//
// [Produce] sends NumRecords records of RecordSize bytes (random upper-case
// letters, as the Java tool does) from Producers independent clients,
// throttled to Throughput records per second in total (-1: as fast as the
// clients go). The latency of a record runs from the moment it is handed to
// the client (so time spent blocked on a full buffer counts, as in the Java
// tool) until its acknowledgement arrives in the produce promise. Latencies go
// into an HDR histogram with three significant digits, from which the
// percentiles are read.
//
// # Consumer
//
// [Consume] reads Messages records from the start of every partition, with or
// without a consumer group, and reports bytes and records per second, the
// time to the first record, and how many Fetch responses were read.
//
// # End to end
//
// [EndToEnd] positions a consumer at the end of every partition, then
// produces records whose first eight bytes are the send time; the consumer
// measures the time from send to delivery. Producer and consumer run in one
// process, so one clock serves both.
//
// Progress lines go to a caller-supplied writer every ReportInterval, and the
// results are plain structs with JSON tags for scripts.
package bench
