// Package cli holds the client-side logic behind the samsa command-line
// tools: connecting to a cluster, turning failures into sentences a person
// can act on, and parsing the small key=value grammar the commands share.
//
// Everything here talks to brokers over the Kafka protocol through franz-go
// (kgo and kadm) and never imports broker internals, so the commands work
// against any Kafka-compatible cluster, not only Samsa.
//
// The model is simple: a command builds an [Options] from its flags, calls
// [Dial] to get a client that has already answered one Metadata request (so
// an unreachable cluster is reported at once, not after a long retry loop),
// does its work, and passes any failure through [Explain] before printing it.
//
//	cl, err := cli.Dial(ctx, opts)
//	if err != nil {
//		return err // already a sentence
//	}
//	defer cl.Close()
//
// Subpackages: format renders records and tables; bench is the engine behind
// `samsa bench` (producer, consumer and end-to-end latency benchmarks).
package cli
