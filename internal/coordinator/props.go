package coordinator

import (
	"fmt"
	"strconv"
	"strings"
)

// Props reads the integer settings of a coordinator from a node's
// Kafka-named properties. Unset and empty keys leave the destination (the
// default) as it is; the first value that does not parse is kept in Err and
// later reads do nothing, so a caller reads every setting and checks once.
type Props struct {
	m   map[string]string
	Err error
}

// NewProps reads from props.
func NewProps(props map[string]string) *Props { return &Props{m: props} }

// Int32 sets *dst from key.
func (p *Props) Int32(key string, dst *int32) {
	p.parse(key, 32, func(n int64) { *dst = int32(n) })
}

// Int16 sets *dst from key.
func (p *Props) Int16(key string, dst *int16) {
	p.parse(key, 16, func(n int64) { *dst = int16(n) })
}

// Int64 sets *dst from key.
func (p *Props) Int64(key string, dst *int64) {
	p.parse(key, 64, func(n int64) { *dst = n })
}

func (p *Props) parse(key string, bits int, set func(int64)) {
	v, ok := p.m[key]
	if !ok || v == "" || p.Err != nil {
		return
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, bits)
	if err != nil {
		p.Err = fmt.Errorf("%s: %q is not a %d-bit integer", key, v, bits)
		return
	}
	set(n)
}
