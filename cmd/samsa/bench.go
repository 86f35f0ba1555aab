package main

import (
	"github.com/spf13/cobra"
)

func newBenchCmd(flags *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a cluster's throughput and latency (like kafka-producer-perf-test)",
	}
	return cmd
}
