package format

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type sample struct {
	Name    string            `json:"name" yaml:"name"`
	Count   int64             `json:"count" yaml:"count"`
	Missing *int64            `json:"missing" yaml:"missing"`
	Items   []string          `json:"items" yaml:"items"`
	Tags    map[string]string `json:"tags" yaml:"tags"`
}

func TestEncode(t *testing.T) {
	in := sample{Name: "a<b>: c", Count: 1 << 40, Items: []string{"x", "- y"}, Tags: map[string]string{"z": "1", "a": "true"}}
	var j bytes.Buffer
	if err := Encode(&j, OutputJSON, in); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(j.String(), `"name": "a<b>: c"`) || !strings.HasSuffix(j.String(), "}\n") {
		t.Fatalf("JSON:\n%s", j.String())
	}
	var fromJSON sample
	if err := json.Unmarshal(j.Bytes(), &fromJSON); err != nil {
		t.Fatal(err)
	}
	var y bytes.Buffer
	if err := Encode(&y, OutputYAML, in); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(y.String(), "name: 'a<b>: c'\n") || !strings.Contains(y.String(), "missing: null\n") {
		t.Fatalf("YAML:\n%s", y.String())
	}
	var fromYAML sample
	if err := yaml.Unmarshal(y.Bytes(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	for _, got := range []sample{fromJSON, fromYAML} {
		if got.Name != in.Name || got.Count != in.Count || got.Missing != nil || strings.Join(got.Items, "|") != "x|- y" || got.Tags["a"] != "true" {
			t.Errorf("round trip: %+v", got)
		}
	}
	if err := Encode(&y, OutputText, in); err == nil {
		t.Error("text is not a document format")
	}
}

func TestParseOutput(t *testing.T) {
	for _, s := range []string{"text", "wide", "json", "yaml"} {
		if o, err := ParseOutput(s); string(o) != s || err != nil {
			t.Errorf("ParseOutput(%q) = %q, %v", s, o, err)
		}
	}
	if _, err := ParseOutput("xml"); err == nil || err.Error() != `unknown format "xml" (want text, wide, json or yaml)` {
		t.Errorf("xml: %v", err)
	}
	if OutputText.Structured() || OutputWide.Structured() || !OutputJSON.Structured() || !OutputYAML.Structured() {
		t.Error("Structured")
	}
}
