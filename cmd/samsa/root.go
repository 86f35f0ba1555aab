package main

import (
	"os"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/spf13/cobra"
)

// clientFlags are the connection flags shared by every client command.
type clientFlags struct {
	bootstrap string
	clientID  string
	timeout   time.Duration
}

func (f *clientFlags) options() cli.Options {
	return cli.Options{
		BootstrapServers: cli.ParseBootstrap(f.bootstrap),
		ClientID:         f.clientID,
		Timeout:          f.timeout,
	}
}

func newRootCmd() *cobra.Command {
	flags := &clientFlags{}
	root := &cobra.Command{
		Use:   "samsa",
		Short: "Samsa: a Kafka-compatible streaming platform in one binary",
		Long: `Samsa is a Kafka-compatible streaming platform in one binary.

'samsa serve' runs a node. The other commands are Kafka clients: they talk to
any Kafka-compatible cluster over the Kafka protocol.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &usageError{err}
	})

	def := os.Getenv("SAMSA_BOOTSTRAP_SERVER")
	if def == "" {
		def = cli.DefaultBootstrapServer
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&flags.bootstrap, "bootstrap-server", "b", def,
		"comma-separated host:port list of brokers to contact first (env SAMSA_BOOTSTRAP_SERVER)")
	pf.StringVar(&flags.clientID, "client-id", "samsa", "client.id sent with every request")
	pf.DurationVar(&flags.timeout, "timeout", 10*time.Second,
		"how long to wait for the cluster to answer an administrative request")

	root.AddCommand(
		newServeCmd(),
		newTopicCmd(flags),
		newProduceCmd(flags),
		newConsumeCmd(flags),
		newBenchCmd(flags),
		newGroupCmd(flags),
		newTxnCmd(flags),
		newConfigCmd(),
	)
	return root
}

// exactArgs is cobra.ExactArgs reporting a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			if n == 1 {
				return usagef("expected %s, got %d arguments", what, len(args))
			}
			return usagef("expected %d arguments (%s), got %d", n, what, len(args))
		}
		return nil
	}
}

// minArgs is cobra.MinimumNArgs reporting a usage error.
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < n {
			return usagef("expected %s", what)
		}
		return nil
	}
}
