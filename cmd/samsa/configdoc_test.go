package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
)

// docs/configuration.md is what the config tables say: regenerate it with
// `go generate ./cmd/samsa` (or make docs) after changing them.
func TestConfigurationReferenceUpToDate(t *testing.T) {
	want, err := configReference()
	if err != nil {
		t.Fatal(err)
	}
	const path = "../../docs/configuration.md"
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run `go generate ./cmd/samsa` to write it", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("docs/configuration.md is out of date with the config tables: run `go generate ./cmd/samsa` (or make docs).\nFirst difference, line %d:\n  file:   %q\n  tables: %q", i+1, g, w)
		}
	}
}

// Every key of every table is in the reference, with its default.
func TestConfigurationReferenceComplete(t *testing.T) {
	doc, err := configReference()
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	for _, d := range config.Defs {
		row := "| `" + d.Name + "`<br>`" + config.EnvName(d.Name) + "`"
		if !strings.Contains(s, row) {
			t.Errorf("no row for start-up setting %s", d.Name)
		}
	}
	for _, d := range metadata.BrokerConfigDefs() {
		if !strings.Contains(s, "| `"+d.Name+"` | ") {
			t.Errorf("no row for dynamic broker config %s", d.Name)
		}
	}
	for _, d := range metadata.TopicConfigDefs() {
		if !strings.Contains(s, "| `"+d.Name+"` | ") {
			t.Errorf("no row for topic config %s", d.Name)
		}
	}
	for _, want := range []string{
		"`log.retention.ms`, `log.retention.minutes`, `log.retention.hours`",
		"`log.dirs`, `log.dir`",
		"--allow-unknown-config", config.EnvRule,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the reference does not say %q", want)
		}
	}
	if err := checkNotApplied(); err != nil {
		t.Error(err)
	}
}

// The node's synonym groups agree with the topic configs' broker synonyms
// where both list a group.
func TestSynonymGroupsAgree(t *testing.T) {
	for _, g := range config.Synonyms {
		for _, d := range metadata.TopicConfigDefs() {
			if len(d.Synonyms) > 0 && d.Synonyms[0] == g[0] && strings.Join(d.Synonyms, ",") != strings.Join(g, ",") {
				t.Errorf("config.Synonyms has %v, the topic config %s has %v", g, d.Name, d.Synonyms)
			}
		}
	}
}
