package format

import (
	"encoding/json"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// Output names how an administrative command prints its result: a table
// for people (text, or wide with more columns), or one JSON or YAML
// document for scripts.
type Output string

// The output formats of the administrative commands.
const (
	OutputText Output = "text"
	OutputWide Output = "wide"
	OutputJSON Output = "json"
	OutputYAML Output = "yaml"
)

// ParseOutput accepts text, wide, json or yaml.
func ParseOutput(s string) (Output, error) {
	switch o := Output(s); o {
	case OutputText, OutputWide, OutputJSON, OutputYAML:
		return o, nil
	}
	return "", fmt.Errorf("unknown format %q (want text, wide, json or yaml)", s)
}

// Structured reports whether o is meant for programs (JSON or YAML).
func (o Output) Structured() bool { return o == OutputJSON || o == OutputYAML }

// Encode writes v to w as one JSON document (indented, ending in a newline)
// or one YAML document. Field names come from the json and yaml struct tags,
// which the commands keep identical.
func Encode(w io.Writer, o Output, v any) error {
	switch o {
	case OutputJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	case OutputYAML:
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return err
		}
		return enc.Close()
	}
	return fmt.Errorf("format %q is not a document format", o)
}
