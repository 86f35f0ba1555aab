package main

import (
	"io"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/samsa-streaming/samsa/internal/cli/format"
	"github.com/spf13/cobra"
)

// outputFlag is the --format flag of the administrative commands: text
// (the default), wide, json or yaml.
type outputFlag struct {
	value  string
	output format.Output
}

// addOutputFlag gives cmd and its subcommands a --format flag, checked
// before any of them runs.
func addOutputFlag(cmd *cobra.Command) *outputFlag {
	of := &outputFlag{}
	cmd.PersistentFlags().StringVarP(&of.value, "format", "f", string(format.OutputText),
		"output format: text, wide (text with more columns), json or yaml")
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error { return of.parse() }
	return of
}

func (of *outputFlag) parse() error {
	o, err := format.ParseOutput(of.value)
	if err != nil {
		return &usageError{err}
	}
	of.output = o
	return nil
}

// structured reports whether the result goes out as a JSON or YAML
// document, in which case sentences meant for people stay out of it.
func (of *outputFlag) structured() bool { return of.output.Structured() }

// print writes v as one JSON or YAML document, or calls text (wide: the
// wide output was asked for) for the text and wide formats.
func (of *outputFlag) print(w io.Writer, v any, text func(wide bool) error) error {
	if of.output.Structured() {
		return format.Encode(w, of.output, v)
	}
	return text(of.output == format.OutputWide)
}

// plural counts a noun: "1 record", "2 records".
func plural[N ~int | ~int32 | ~int64](n N, noun string) string { return cli.Plural(n, noun) }
