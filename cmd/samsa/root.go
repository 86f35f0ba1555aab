package main

import (
	"fmt"
	"os"
	"strings"
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
	groupCommand(root)
	showVersion := root.Flags().Bool("version", false, "print the version and VCS commit of this binary")
	help := root.RunE
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if *showVersion {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), buildVersion())
			return err
		}
		return help(cmd, args)
	}

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
		newClusterCmd(flags),
		newVersionCmd(),
		newConfigCmd(),
	)
	return root
}

// exactArgs is cobra.ExactArgs reporting a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			if n == 0 {
				return usagef("expected no arguments, got %s", plural(len(args), "argument"))
			}
			if n == 1 {
				return usagef("expected %s, got %s", what, plural(len(args), "argument"))
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

// groupCommand makes cmd, which only groups subcommands, print its help
// when run alone and reject an unknown subcommand as a usage mistake that
// suggests the nearest one (cobra does that only for the root).
func groupCommand(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		return unknownCommand(c, args[0])
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	return cmd
}

func unknownCommand(c *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, c.CommandPath())
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2 // cobra's default, which it sets only for the root
	}
	if s := c.SuggestionsFor(name); len(s) > 0 {
		return usagef("%s; did you mean %s?", msg, orList(s))
	}
	var names []string
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() && sub.Name() != "help" && sub.Name() != "completion" {
			names = append(names, sub.Name())
		}
	}
	return usagef("%s (want %s)", msg, orList(names))
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
