package sim

import (
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestScenarios runs the scripts of testdata (see script.go for the
// commands; init starts a new simulation: init [nodes=3] [min-isr=2]).
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var s *Sim
		defer func() {
			if s != nil {
				s.Close()
			}
		}()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			args := map[string]string{}
			for _, a := range d.CmdArgs {
				v := ""
				if len(a.Vals) > 0 {
					v = a.Vals[0]
				}
				args[a.Key] = v
			}
			if d.Cmd == "init" {
				if s != nil {
					s.Close()
				}
				nodes, _ := strconv.Atoi(args["nodes"])
				minISR, _ := strconv.Atoi(args["min-isr"])
				var err error
				if s, err = New(Options{Nodes: nodes, MinISR: minISR}); err != nil {
					t.Fatal(err)
				}
				var b strings.Builder
				s.printState(&b)
				return b.String()
			}
			out, err := s.Exec(d.Cmd, args)
			if err != nil {
				t.Fatalf("%s: %v", d.Pos, err)
			}
			return out
		})
	})
}
