package archtest

import (
	"strings"
	"testing"
)

// A small module: cmd imports app; app imports store and the standard
// library; store imports disk; cli/tool imports cli.
func fakeGraph() *graph {
	const m = "example.com/m"
	return &graph{
		module: m,
		own:    []string{m + "/cli", m + "/cli/tool", m + "/cmd", m + "/internal/app", m + "/internal/disk", m + "/internal/store"},
		imports: map[string][]string{
			m + "/cmd":            {"fmt", m + "/internal/app"},
			m + "/internal/app":   {"fmt", m + "/internal/store"},
			m + "/internal/store": {m + "/internal/disk", "os"},
			m + "/internal/disk":  {"os"},
			m + "/cli/tool":       {m + "/cli"},
			m + "/cli":            {"fmt"},
			"fmt":                 {"os"},
		},
	}
}

func fakeDoc(groups, rows string) string {
	return "# Architecture\n\n" + section + "\n\nSome words.\n\n" +
		"| Group | Packages |\n|---|---|\n" + groups + "\n" +
		"| Package | Never imports | Scope | Status |\n|---|---|---|---|\n" + rows +
		"\n## Next section\n\n| Not | A rule |\n|---|---|\n| x | y |\n"
}

const fakeRows = "| `cmd` | nothing | transitive | enforced |\n" +
	"| `internal/app` | `cli/...` | transitive | enforced |\n" +
	"| `internal/store` | `internal/app` | transitive | enforced |\n" +
	"| `internal/disk` | `...` | transitive | enforced |\n" +
	"| `cli` | `server` | transitive | enforced |\n" +
	"| `cli/tool` | `server` | transitive | enforced |\n"

const fakeGroups = "| `server` | `internal/...` except `internal/disk` |\n"

func TestCheckClean(t *testing.T) {
	rep := check(fakeDoc(fakeGroups, fakeRows), fakeGraph())
	if len(rep.problems)+len(rep.violations)+len(rep.notes) != 0 {
		t.Fatalf("want a clean report, got %+v", rep)
	}
}

func TestCheckFindsChains(t *testing.T) {
	rows := fakeRows +
		"| `cmd` | `internal/disk` | transitive | enforced |\n" +
		"| `internal/app` | `internal/disk` | direct | enforced |\n" + // only through store: allowed
		"| `internal/app` | `internal/store` | direct | enforced |\n"
	rep := check(fakeDoc(fakeGroups, rows), fakeGraph())
	if len(rep.problems) != 0 {
		t.Fatalf("problems: %q", rep.problems)
	}
	want := []string{
		"cmd must never import internal/disk, but it does: cmd → internal/app → internal/store → internal/disk",
		"internal/app must never import internal/store directly, but it does: internal/app → internal/store",
	}
	if len(rep.violations) != len(want) {
		t.Fatalf("violations: %q, want %q", rep.violations, want)
	}
	for i, w := range want {
		if !strings.HasSuffix(rep.violations[i], w) || !strings.HasPrefix(rep.violations[i], docPath+":") {
			t.Errorf("violation %d = %q, want %q after the rule's line", i, rep.violations[i], w)
		}
	}
}

func TestCheckTargetsAreNotEnforced(t *testing.T) {
	rows := fakeRows +
		"| `internal/app` | `internal/store` | direct | target |\n" +
		"| `internal/disk` | `cmd` | transitive | target |\n"
	rep := check(fakeDoc(fakeGroups, rows), fakeGraph())
	if len(rep.problems)+len(rep.violations) != 0 {
		t.Fatalf("target rules enforced: %+v", rep)
	}
	if len(rep.notes) != 2 ||
		!strings.Contains(rep.notes[0], "target, not enforced yet: internal/app must never import internal/store directly") ||
		!strings.Contains(rep.notes[1], "target rule for internal/disk holds already") {
		t.Fatalf("notes: %q", rep.notes)
	}
}

func TestCheckKeepsTheTableTrue(t *testing.T) {
	for _, tc := range []struct {
		name, groups, rows, want string
	}{
		{"renamed row", fakeGroups, fakeRows + "| `internal/gone` | `cmd` | transitive | enforced |\n",
			`"internal/gone" is not a package of the module: was it renamed or removed?`},
		{"renamed import", fakeGroups, fakeRows + "| `cmd` | `internal/gone` | transitive | enforced |\n",
			`"internal/gone" is not a package of the module, nor a group`},
		{"empty pattern", fakeGroups, fakeRows + "| `cmd` | `gone/...` | transitive | enforced |\n",
			`"gone/..." matches no package of the module`},
		{"full path", fakeGroups, fakeRows + "| `cmd` | `example.com/m/cli` | transitive | enforced |\n",
			"write package paths relative to the module"},
		{"stale group", fakeGroups + "| `old` | `internal/gone` |\n", fakeRows,
			`group "old": "internal/gone" is not a package`},
		{"missing row", fakeGroups, strings.Replace(fakeRows, "| `cli/tool` | `server` | transitive | enforced |\n", "", 1),
			"package cli/tool has no row in the import rules"},
		{"status typo", fakeGroups, fakeRows + "| `cmd` | `cli` | transitive | enforce |\n",
			`status "enforce": it is enforced or target`},
		{"scope typo", fakeGroups, fakeRows + "| `cmd` | `cli` | deps | enforced |\n",
			`scope "deps": it is transitive or direct`},
		{"short row", fakeGroups, fakeRows + "| `cmd` | `cli` | transitive |\n",
			"a rule row needs 4 cells"},
		{"except twice", fakeGroups, fakeRows + "| `cmd` | `...` except `cli` except `cli/tool` | transitive | enforced |\n",
			`says "except" more than once`},
		{"group in a group", fakeGroups + "| `twice` | `server` |\n", fakeRows,
			`group "server" used inside a group`},
		{"nothing after except", fakeGroups, fakeRows + "| `cmd` | `cli/...` except nothing | transitive | enforced |\n",
			`nothing follows "except"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := check(fakeDoc(tc.groups, tc.rows), fakeGraph())
			found := false
			for _, p := range rep.problems {
				found = found || strings.Contains(p, tc.want)
			}
			if !found {
				t.Fatalf("problems %q, want one saying %q", rep.problems, tc.want)
			}
		})
	}
}

func TestCheckNeedsTheSection(t *testing.T) {
	rep := check("# Architecture\n\nNo rules here.\n", fakeGraph())
	if len(rep.problems) != 1 || !strings.Contains(rep.problems[0], `no "## Import rules" section`) {
		t.Fatalf("problems: %q", rep.problems)
	}
}
