package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestImportRules holds the module's packages to the import rules of
// docs/ARCHITECTURE.md.
func TestImportRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH, and the import rules of " + docPath + " are checked with go list")
	}
	root := moduleRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, docPath))
	if err != nil {
		t.Fatal(err)
	}
	g := loadGraph(t, root)

	rep := check(string(doc), g)
	for _, n := range rep.notes {
		t.Log(n)
	}
	for _, p := range rep.problems {
		t.Error(p)
	}
	for _, v := range rep.violations {
		t.Error(v)
	}
	if len(rep.violations) > 0 {
		t.Log("a forbidden import is a layering change: remove it, or change the rule in " + docPath + " and say why")
	}
}

// moduleRoot is the directory of the go.mod that holds this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// loadGraph asks go list, once, for the module's packages and everything
// they depend on.
func loadGraph(t *testing.T, root string) *graph {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports,DepOnly,Module", "./...")
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list -deps ./... failed, so the import rules cannot be checked: %v\n%s", err, stderr.Bytes())
	}

	g := &graph{imports: map[string][]string{}}
	dec := json.NewDecoder(&stdout)
	for {
		var p struct {
			ImportPath string
			Imports    []string
			DepOnly    bool
			Module     *struct{ Path string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list's output: %v", err)
		}
		g.imports[p.ImportPath] = p.Imports
		if p.DepOnly {
			continue
		}
		if p.Module == nil {
			t.Fatalf("go list: package %s is in no module", p.ImportPath)
		}
		if g.module == "" {
			g.module = p.Module.Path
		} else if g.module != p.Module.Path {
			t.Fatalf("go list: packages of two modules, %s and %s", g.module, p.Module.Path)
		}
		g.own = append(g.own, p.ImportPath)
	}
	if len(g.own) == 0 {
		t.Fatal("go list found no packages in " + root)
	}
	slices.Sort(g.own)
	return g
}
