package config

import (
	"fmt"
	"sort"
	"strings"
)

// UnknownKey is a key from a source that is not a start-up setting: a
// misspelt key, a key Samsa does not have, or one it knows but reads from
// elsewhere (a topic config, a dynamic broker config).
type UnknownKey struct {
	// Key is the property name as written; for an environment variable
	// that names no key (Env), the variable's name.
	Key string
	// Env is true when Key is a SAMSA_* variable that maps to no key but
	// looks like a misspelling of one (see EnvRule).
	Env bool
	// Source says where the key was found: "server.properties line 3",
	// "environment variable SAMSA_X", "command line"; "" when not known
	// (Parse).
	Source string
	// Suggestion is the closest known key, "" when none is close.
	Suggestion string
	// Hint says where a key that Samsa knows but does not read at start
	// belongs; "" for other keys.
	Hint string
}

// String is one sentence about the key, with the closest known key or the
// hint.
func (u UnknownKey) String() string {
	where := ""
	if u.Source != "" {
		where = " (" + u.Source + ")"
	}
	var b strings.Builder
	switch {
	case u.Hint != "":
		fmt.Fprintf(&b, "config key %q%s is not read at start: %s", u.Key, where, u.Hint)
	case u.Env:
		fmt.Fprintf(&b, "environment variable %s names no config key", u.Key)
		if u.Suggestion != "" {
			fmt.Fprintf(&b, ": did you mean %s (%s)?", EnvName(u.Suggestion), u.Suggestion)
		}
	default:
		fmt.Fprintf(&b, "unknown config key %q%s", u.Key, where)
		if u.Suggestion != "" {
			fmt.Fprintf(&b, ": did you mean %q?", u.Suggestion)
		}
	}
	if h := hints[u.Suggestion]; u.Hint == "" && h != "" {
		fmt.Fprintf(&b, " (%s is not read at start either: %s)", u.Suggestion, h)
	}
	return b.String()
}

// UnknownKeysError is Load's error when the sources name keys that are not
// start-up settings and Sources.AllowUnknown is false: one line per key.
type UnknownKeysError struct {
	Keys []UnknownKey
}

func (e *UnknownKeysError) Error() string {
	lines := make([]string, len(e.Keys))
	for i, k := range e.Keys {
		lines[i] = k.String()
	}
	return strings.Join(lines, "\n")
}

// hints are the keys Samsa knows but does not read at start, with where
// they belong.
var hints = map[string]string{
	"broker.id":                      "the node's id is node.id",
	"listener.security.protocol.map": "every listener is PLAINTEXT: there is no other security protocol to map yet",
}

// RegisterHint records a key that Samsa knows but does not read at start
// (a topic config, a dynamic broker config) with the clause saying where it
// belongs. Load refuses the key with that clause instead of a "did you mean".
// A key that is a start-up setting is left alone. Call it from an init
// function only.
func RegisterHint(key, hint string) {
	if _, ok := defsByName[key]; ok {
		return
	}
	hints[key] = hint
}

// Hint returns the clause registered for a key that is not read at start,
// or "".
func Hint(key string) string { return hints[key] }

// NonConfigEnv are the SAMSA_* variables that belong to the client
// commands, not to a node's configuration (samsa -b's default).
var NonConfigEnv = []string{"SAMSA_BOOTSTRAP_SERVER"}

// EnvRule says which SAMSA_* variables Load treats as configuration. It is
// printed in the configuration reference.
const EnvRule = "A variable whose name is a key's variable name sets that key. " +
	"A SAMSA_ variable that names no key is refused as a misspelling when it is within two edits of a key's variable name, " +
	"or is SAMSA_SAMSA_ followed by a key's variable name without its SAMSA_ prefix (written from the key samsa.x.y rather than from x.y); " +
	"every other variable, SAMSA_BOOTSTRAP_SERVER (the client commands' default broker) and those that test and benchmark harnesses set among them, is not configuration and is ignored."

// envMaxEdits is how far a SAMSA_ variable may be from a key's variable
// name and still count as a misspelling of it.
const envMaxEdits = 2

// envKeys maps every known key's variable name to the key, hint keys
// included.
func envKeys() map[string]string {
	m := make(map[string]string, len(Defs)+len(hints))
	for k := range hints {
		m[EnvName(k)] = k
	}
	for _, d := range Defs {
		m[EnvName(d.Name)] = d.Name
	}
	return m
}

// classifyEnv reads one SAMSA_ variable: the key it sets, or the key it
// looks like a misspelling of (miss), or neither (not configuration).
func classifyEnv(name string, keys map[string]string) (key string, miss string) {
	if k, ok := keys[name]; ok {
		return k, ""
	}
	for _, n := range NonConfigEnv {
		if name == n {
			return "", ""
		}
	}
	if rest, ok := strings.CutPrefix(name, "SAMSA_SAMSA_"); ok {
		if k, ok := keys["SAMSA_"+rest]; ok {
			return "", k
		}
	}
	upper := strings.ToUpper(name)
	if k, ok := keys[upper]; ok {
		return "", k // SAMSA_log_dirs: the right name in the wrong case
	}
	best, bestD := "", envMaxEdits+1
	for env, k := range keys {
		d := editDistance(upper, env)
		if d <= envMaxEdits && (d < bestD || (d == bestD && k < best)) {
			best, bestD = k, d
		}
	}
	return "", best
}

// unknownKeys lists the keys of props that are not start-up settings,
// sorted, each with its hint or the closest known key.
func unknownKeys(props map[string]string) []UnknownKey {
	var out []UnknownKey
	for k := range props {
		if _, ok := defsByName[k]; ok {
			continue
		}
		u := UnknownKey{Key: k, Hint: hints[k]}
		if u.Hint == "" {
			u.Suggestion = Suggest(k)
		}
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Suggest returns the known key closest to key by edit distance, comparing
// lower-cased names with '_' and '-' read as '.' (and Samsa's own keys also
// without their "samsa." prefix, as their flags and variables drop it), or
// "" when none is within a third of the key's length (at least two edits).
func Suggest(key string) string {
	n := normalizeKey(key)
	limit := max(2, len(n)/3)
	best, bestD := "", limit+1
	consider := func(cand string) {
		if cand == key {
			return
		}
		d := editDistance(n, cand)
		if short, ok := strings.CutPrefix(cand, "samsa."); ok {
			d = min(d, editDistance(n, short))
		}
		if d <= limit && (d < bestD || (d == bestD && cand < best)) {
			best, bestD = cand, d
		}
	}
	for _, d := range Defs {
		consider(d.Name)
	}
	for k := range hints {
		consider(k)
	}
	return best
}

func normalizeKey(k string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' {
			return '.'
		}
		return r
	}, strings.ToLower(strings.TrimSpace(k)))
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
