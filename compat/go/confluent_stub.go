//go:build !confluent

package main

func newConfluent() (client, error) {
	return nil, naf("compat-go was built without -tags confluent (cgo), see compat/out/compat-confluent-go.unavailable")
}

func confluentVersion() string { return "(not built)" }
