// Package broker turns Kafka requests into calls on the storage, metadata
// and coordinator subsystems. Each API lives in its own file, named after its
// key (00_produce.go, 01_fetch.go, ...), which opens with the versions it
// serves and registers them in the API table.
package broker

// Broker is one node's request-serving state.
type Broker struct{}
