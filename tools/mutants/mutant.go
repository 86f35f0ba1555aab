package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// mutant is one deliberate bug: replace find (which must occur exactly
// once in file) with replace, and the tests of pkgs must fail.
type mutant struct {
	ID      string
	File    string   // module-relative, slash-separated
	Pkgs    []string // go test package patterns, e.g. ./internal/log/
	Run     string   // go test -run filter; empty runs every test
	Rule    string   // the safety rule the mutant breaks
	Find    string
	Replace string
	Line    int // where the mutant starts in the list, for messages
}

var idPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// parseMutants reads the mutant list. Each mutant is a block of
// "key: value" lines (id, file, pkgs, run, rule) followed by its two
// snippets: a line "find:", the lines to find verbatim, a line "replace:",
// the lines that replace them verbatim, and a line "end". Outside the
// snippets, blank lines and lines starting with '#' are ignored.
func parseMutants(r io.Reader) ([]mutant, error) {
	var (
		out  []mutant
		cur  *mutant
		ids  = map[string]int{}
		sc   = bufio.NewScanner(r)
		n    int
		mode string // "", "find" or "replace"
		buf  []string
	)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	errf := func(format string, args ...any) error {
		return fmt.Errorf("line %d: %s", n, fmt.Sprintf(format, args...))
	}
	finish := func() error {
		m := cur
		cur = nil
		switch {
		case m.ID == "":
			return fmt.Errorf("line %d: mutant without an id", m.Line)
		case m.File == "" || len(m.Pkgs) == 0 || m.Rule == "":
			return fmt.Errorf("mutant %s (line %d): file, pkgs and rule are required", m.ID, m.Line)
		case m.Find == "":
			return fmt.Errorf("mutant %s (line %d): empty find snippet", m.ID, m.Line)
		case m.Find == m.Replace:
			return fmt.Errorf("mutant %s (line %d): replace is the same as find", m.ID, m.Line)
		}
		out = append(out, *m)
		return nil
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		switch mode {
		case "find":
			if line == "replace:" {
				cur.Find, buf, mode = strings.Join(buf, "\n"), nil, "replace"
				continue
			}
			buf = append(buf, line)
			continue
		case "replace":
			if line == "end" {
				cur.Replace, buf, mode = strings.Join(buf, "\n"), nil, ""
				if err := finish(); err != nil {
					return nil, err
				}
				continue
			}
			buf = append(buf, line)
			continue
		}
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if line == "find:" {
			if cur == nil {
				return nil, errf("find: outside a mutant")
			}
			mode = "find"
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			return nil, errf("want \"key: value\", find: or a comment, got %q", line)
		}
		val = strings.TrimSpace(val)
		if key == "id" {
			if cur != nil {
				return nil, errf("mutant %s has no find:/replace:/end", cur.ID)
			}
			if !idPattern.MatchString(val) {
				return nil, errf("id %q: use lower-case letters, digits and '-'", val)
			}
			if prev, dup := ids[val]; dup {
				return nil, errf("id %s is already used on line %d", val, prev)
			}
			ids[val] = n
			cur = &mutant{ID: val, Line: n}
			continue
		}
		if cur == nil {
			return nil, errf("%s: before the first id:", key)
		}
		switch key {
		case "file":
			cur.File = val
		case "pkgs":
			cur.Pkgs = strings.Fields(val)
		case "run":
			cur.Run = val
		case "rule":
			cur.Rule = val
		default:
			return nil, errf("unknown key %q", key)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	switch {
	case mode == "find":
		return nil, fmt.Errorf("mutant %s: no replace: before the end of the list", cur.ID)
	case mode == "replace":
		return nil, fmt.Errorf("mutant %s: no end before the end of the list", cur.ID)
	case cur != nil:
		return nil, fmt.Errorf("mutant %s: no find: before the end of the list", cur.ID)
	}
	return out, nil
}

// apply returns src with m's snippet replaced, or an error saying the
// mutant is stale: its snippet occurs zero times or more than once.
func (m *mutant) apply(src string) (string, error) {
	switch c := strings.Count(src, m.Find); c {
	case 1:
		return strings.Replace(src, m.Find, m.Replace, 1), nil
	case 0:
		return "", fmt.Errorf("snippet not found in %s", m.File)
	default:
		return "", fmt.Errorf("snippet occurs %d times in %s", c, m.File)
	}
}

// selectMutants keeps the mutants named in only (comma-separated ids;
// empty keeps all), in list order.
func selectMutants(all []mutant, only string) ([]mutant, error) {
	if only == "" {
		return all, nil
	}
	want := map[string]bool{}
	for _, id := range strings.Split(only, ",") {
		if id = strings.TrimSpace(id); id != "" {
			want[id] = true
		}
	}
	var out []mutant
	for _, m := range all {
		if want[m.ID] {
			out = append(out, m)
			delete(want, m.ID)
		}
	}
	if len(want) > 0 {
		var unknown []string
		for id := range want {
			unknown = append(unknown, id)
		}
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown mutant ids: %s", strings.Join(unknown, ", "))
	}
	return out, nil
}
