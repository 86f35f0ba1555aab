package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/samsa-streaming/samsa/internal/config"
)

// logAdvertised says what clients are told when the listener binds every
// interface and advertised.listeners is not set.
func TestLogAdvertised(t *testing.T) {
	for _, tc := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"listeners": "0.0.0.0:9092"}, `level=WARN msg="the listener binds every interface (0.0.0.0) and advertised.listeners is not set: clients cannot connect to 0.0.0.0, so they are told this machine's host name instead`},
		{map[string]string{"listeners": "[::]:9092"}, `clients cannot connect to ::`},
		{map[string]string{"listeners": ":9092"}, `level=INFO msg="the listener binds every interface and advertised.listeners is not set: clients are told this machine's host name, as Kafka does`},
		{map[string]string{"listeners": "0.0.0.0:9092", "advertised.listeners": "broker:9092"}, ""},
		{map[string]string{"listeners": "127.0.0.1:9092"}, ""},
	} {
		cfg, err := config.Parse(tc.props)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		logAdvertised(slog.New(slog.NewTextHandler(&buf, nil)), cfg, "node-a:9092")
		if tc.want == "" && buf.Len() != 0 || !strings.Contains(buf.String(), tc.want) {
			t.Errorf("%v: logged %q, want %q", tc.props, buf.String(), tc.want)
		}
		if tc.want != "" && !strings.Contains(buf.String(), "advertised=node-a:9092") {
			t.Errorf("%v: logged %q without the advertised address", tc.props, buf.String())
		}
	}
}
