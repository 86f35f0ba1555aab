package cli

import (
	"fmt"
	"strings"
)

// ParseKV splits "key=value" at the first '='. The key must be non-empty;
// the value may be empty ("k=" is the empty string).
func ParseKV(s string) (key, value string, err error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("%q is not of the form key=value", s)
	}
	if strings.TrimSpace(k) == "" {
		return "", "", fmt.Errorf("%q has an empty key", s)
	}
	return strings.TrimSpace(k), v, nil
}

// ParseConfigs parses repeated --config key=value flags into the map that
// CreateTopics takes. A key given twice is an error rather than a silent
// override.
func ParseConfigs(kvs []string) (map[string]*string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]*string, len(kvs))
	for _, s := range kvs {
		k, v, err := ParseKV(s)
		if err != nil {
			return nil, fmt.Errorf("bad --config: %w", err)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("bad --config: %q given twice", k)
		}
		out[k] = &v
	}
	return out, nil
}
