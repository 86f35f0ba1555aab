package archtest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The import rules live in this section of docs/ARCHITECTURE.md, as two
// Markdown tables told apart by their headers.
const (
	docPath = "docs/ARCHITECTURE.md"
	section = "## Import rules"
)

var (
	groupsHeader = []string{"Group", "Packages"}
	rulesHeader  = []string{"Package", "Never imports", "Scope", "Status"}
)

// graph is the import graph of a module: its own packages and, for them and
// every package they depend on, what each imports. Paths are full import
// paths.
type graph struct {
	module  string
	own     []string            // the module's packages, sorted
	imports map[string][]string // import path → its imports
}

// rel is path relative to the module, the way the document writes it.
func (g *graph) rel(path string) string {
	if path == g.module {
		return "."
	}
	if r, ok := strings.CutPrefix(path, g.module+"/"); ok {
		return r
	}
	return path
}

// full is the import path of rel, a path relative to the module.
func (g *graph) full(rel string) string {
	if rel == "." {
		return g.module
	}
	return g.module + "/" + rel
}

func (g *graph) isOwn(path string) bool {
	_, ok := slices.BinarySearch(g.own, path)
	return ok
}

// set is a list of items as a cell writes them: code spans before the word
// "except" are included, those after it are left out.
type set struct {
	include, exclude []string
}

// rule is one row of the rules table.
type rule struct {
	line      int // 1-based line in the document
	pkg       string
	forbidden set
	direct    bool // only the package's own imports count
	target    bool // reported, not enforced
}

// rules is what the section says.
type rules struct {
	groups     map[string]set
	groupLines map[string]int
	rows       []rule
}

var (
	codeSpan = regexp.MustCompile("`([^`]*)`")
	except   = regexp.MustCompile(`\bexcept\b`)
)

// parseSet reads a cell: every code span is an item, and the word "except"
// (outside code spans, at most once) starts the items to leave out.
func parseSet(cell string) (set, error) {
	var s set
	excluding := false
	prev := 0
	for _, m := range codeSpan.FindAllStringSubmatchIndex(cell, -1) {
		if n := len(except.FindAllStringIndex(cell[prev:m[0]], -1)); n > 0 {
			if excluding || n > 1 {
				return set{}, fmt.Errorf("%q says \"except\" more than once", cell)
			}
			excluding = true
		}
		item := strings.TrimSpace(cell[m[2]:m[3]])
		if item == "" {
			return set{}, fmt.Errorf("%q has an empty code span", cell)
		}
		if excluding {
			s.exclude = append(s.exclude, item)
		} else {
			s.include = append(s.include, item)
		}
		prev = m[1]
	}
	if except.MatchString(cell[prev:]) || (excluding && len(s.exclude) == 0) {
		return set{}, fmt.Errorf("%q: nothing follows \"except\"", cell)
	}
	if len(s.include) == 0 && len(s.exclude) > 0 {
		return set{}, fmt.Errorf("%q leaves packages out of nothing", cell)
	}
	return s, nil
}

// splitRow splits a Markdown table row into its trimmed cells.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	line = strings.TrimSuffix(line, "|")
	cells := strings.Split(line, "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

// word reads a cell that holds one plain word, with or without backticks.
func word(cell string) string {
	return strings.Trim(strings.TrimSpace(cell), "`")
}

// parseRules reads the import rules section of doc. Problems with the
// tables' shape come back as errors prefixed with their line.
func parseRules(doc string) (*rules, []string) {
	lines := strings.Split(doc, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == section {
			if start >= 0 {
				return nil, []string{fmt.Sprintf("%s: two %q sections", docPath, section)}
			}
			start = i + 1
		}
	}
	if start < 0 {
		return nil, []string{fmt.Sprintf("%s has no %q section", docPath, section)}
	}
	end := len(lines)
	for i := start; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "# ") || strings.HasPrefix(lines[i], "## ") {
			end = i
			break
		}
	}

	r := &rules{groups: map[string]set{}, groupLines: map[string]int{}}
	var problems []string
	bad := func(line int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d: ", docPath, line)+fmt.Sprintf(format, args...))
	}
	sawRules := false
	for i := start; i < end; i++ {
		if !strings.HasPrefix(strings.TrimSpace(lines[i]), "|") {
			continue
		}
		// A table: header, separator, rows, up to the first line that is
		// not a row.
		header := splitRow(lines[i])
		j := i + 1
		for j < end && strings.HasPrefix(strings.TrimSpace(lines[j]), "|") {
			j++
		}
		if j < i+2 || strings.Trim(lines[i+1], "|-: \t") != "" {
			bad(i+1, "a table header must be followed by its |---| line")
			i = j
			continue
		}
		table := lines[i+2 : j]
		first := i + 3 // line number of the first row
		switch {
		case slices.Equal(header, groupsHeader):
			for k, l := range table {
				line := first + k
				cells := splitRow(l)
				if len(cells) != len(groupsHeader) {
					bad(line, "a group row needs %d cells, this one has %d", len(groupsHeader), len(cells))
					continue
				}
				name := word(cells[0])
				s, err := parseSet(cells[1])
				switch {
				case err != nil:
					bad(line, "%v", err)
				case name == "" || strings.ContainsAny(name, "/. "):
					bad(line, "group name %q: a group's name is one word, without dots or slashes", name)
				case r.groupLines[name] != 0:
					bad(line, "group %q is defined twice (first on line %d)", name, r.groupLines[name])
				default:
					r.groups[name] = s
					r.groupLines[name] = line
				}
			}
		case slices.Equal(header, rulesHeader):
			sawRules = true
			for k, l := range table {
				line := first + k
				cells := splitRow(l)
				if len(cells) != len(rulesHeader) {
					bad(line, "a rule row needs %d cells, this one has %d", len(rulesHeader), len(cells))
					continue
				}
				pkg := codeSpan.FindAllStringSubmatch(cells[0], -1)
				if len(pkg) != 1 || strings.TrimSpace(codeSpan.ReplaceAllString(cells[0], "")) != "" {
					bad(line, "the package cell %q must be one package path in a code span", cells[0])
					continue
				}
				s, err := parseSet(cells[1])
				if err != nil {
					bad(line, "%v", err)
					continue
				}
				ru := rule{line: line, pkg: strings.TrimSpace(pkg[0][1]), forbidden: s}
				switch word(cells[2]) {
				case "transitive":
				case "direct":
					ru.direct = true
				default:
					bad(line, "scope %q: it is transitive or direct", cells[2])
					continue
				}
				switch word(cells[3]) {
				case "enforced":
				case "target":
					ru.target = true
				default:
					bad(line, "status %q: it is enforced or target", cells[3])
					continue
				}
				r.rows = append(r.rows, ru)
			}
		default:
			bad(i+1, "a table with header %q; the section's tables have the headers %q or %q",
				header, rulesHeader, groupsHeader)
		}
		i = j
	}
	if !sawRules {
		bad(start, "no rules table (header %q)", rulesHeader)
	}
	return r, problems
}

// resolve turns one item of a cell into the module packages it stands for.
func (g *graph) resolve(item string, groups map[string]set, inGroup bool) ([]string, error) {
	if s, ok := groups[item]; ok {
		if inGroup {
			return nil, fmt.Errorf("group %q used inside a group; groups list packages and patterns only", item)
		}
		return g.resolveSet(s, groups, true)
	}
	if item == "..." {
		return g.own, nil
	}
	if base, ok := strings.CutSuffix(item, "/..."); ok {
		var out []string
		for _, p := range g.own {
			if r := g.rel(p); r == base || strings.HasPrefix(r, base+"/") {
				out = append(out, p)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%q matches no package of the module", item)
		}
		return out, nil
	}
	full := g.full(item)
	if !g.isOwn(full) {
		if strings.HasPrefix(item, g.module) {
			return nil, fmt.Errorf("%q: write package paths relative to the module, without %s/", item, g.module)
		}
		return nil, fmt.Errorf("%q is not a package of the module, nor a group", item)
	}
	return []string{full}, nil
}

func (g *graph) resolveSet(s set, groups map[string]set, inGroup bool) ([]string, error) {
	var in []string
	for _, item := range s.include {
		ps, err := g.resolve(item, groups, inGroup)
		if err != nil {
			return nil, err
		}
		in = append(in, ps...)
	}
	out := map[string]bool{}
	for _, item := range s.exclude {
		ps, err := g.resolve(item, groups, inGroup)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			out[p] = true
		}
	}
	in = slices.DeleteFunc(in, func(p string) bool { return out[p] })
	slices.Sort(in)
	return slices.Compact(in), nil
}

// chains finds, for each target package that from imports, directly or
// not, the first shortest chain of imports from from to it. The search
// visits imports in go list's (sorted) order, so the answer is stable.
func (g *graph) chains(from string, direct bool) map[string][]string {
	parent := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, q := range g.imports[p] {
			if _, seen := parent[q]; seen {
				continue
			}
			parent[q] = p
			if !direct {
				queue = append(queue, q)
			}
		}
	}
	out := make(map[string][]string, len(parent))
	for p := range parent {
		if p == from {
			continue
		}
		var chain []string
		for q := p; q != ""; q = parent[q] {
			chain = append(chain, q)
		}
		slices.Reverse(chain)
		out[p] = chain
	}
	return out
}

func (g *graph) showChain(chain []string) string {
	rel := make([]string, len(chain))
	for i, p := range chain {
		rel[i] = g.rel(p)
	}
	return strings.Join(rel, " → ")
}

// report is what checking a document's rules against a graph found.
type report struct {
	problems   []string // the rules themselves are wrong: bad cells, unknown names, missing rows
	violations []string // enforced rules the code breaks
	notes      []string // how the target rules stand
}

// check checks doc's import rules against g.
func check(doc string, g *graph) report {
	r, problems := parseRules(doc)
	rep := report{problems: problems}
	if r == nil {
		return rep
	}
	bad := func(line int, format string, args ...any) {
		rep.problems = append(rep.problems, fmt.Sprintf("%s:%d: ", docPath, line)+fmt.Sprintf(format, args...))
	}

	// Groups must name real packages even when no rule uses them.
	for name, s := range r.groups {
		if _, err := g.resolveSet(s, r.groups, true); err != nil {
			bad(r.groupLines[name], "group %q: %v", name, err)
		}
	}

	covered := map[string]bool{}
	for _, ru := range r.rows {
		pkg := g.full(ru.pkg)
		if !g.isOwn(pkg) {
			bad(ru.line, "%q is not a package of the module: was it renamed or removed?", ru.pkg)
			continue
		}
		covered[pkg] = true
		forbidden, err := g.resolveSet(ru.forbidden, r.groups, false)
		if err != nil {
			bad(ru.line, "%s: %v", ru.pkg, err)
			continue
		}
		how := ""
		if ru.direct {
			how = " directly"
		}
		reach := g.chains(pkg, ru.direct)
		var broken []string
		for _, f := range forbidden {
			if f == pkg {
				continue
			}
			if chain, ok := reach[f]; ok {
				broken = append(broken, fmt.Sprintf("%s must never import %s%s, but it does: %s",
					ru.pkg, g.rel(f), how, g.showChain(chain)))
			}
		}
		where := fmt.Sprintf("%s:%d", docPath, ru.line)
		switch {
		case !ru.target:
			for _, b := range broken {
				rep.violations = append(rep.violations, where+": "+b)
			}
		case len(broken) == 0:
			rep.notes = append(rep.notes, fmt.Sprintf("%s: target rule for %s holds already: its status can become enforced", where, ru.pkg))
		default:
			for _, b := range broken {
				rep.notes = append(rep.notes, where+": target, not enforced yet: "+b)
			}
		}
	}
	for _, p := range g.own {
		if !covered[p] {
			rep.problems = append(rep.problems, fmt.Sprintf(
				"%s: package %s has no row in the import rules: add one saying what it must never import",
				docPath, g.rel(p)))
		}
	}
	return rep
}
