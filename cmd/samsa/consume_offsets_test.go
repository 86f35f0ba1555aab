package main

import (
	"fmt"
	"testing"
)

func TestOffsetResolverStart(t *testing.T) {
	b := logBounds{start: 5, hwm: 20, end: 18, atTime: 12} // end < hwm: read_committed with an open transaction
	for _, tc := range []struct {
		rule  startRule
		reset resetPolicy
		want  int64
		oor   string // the sentence, if out of range
	}{
		{startRule{kind: startEarliest}, resetLatest, 5, ""},
		{startRule{kind: startLatest}, resetEarliest, 18, ""},
		{startRule{kind: startTime}, resetLatest, 12, ""},
		{startRule{kind: startOffset, offset: 7}, resetLatest, 7, ""},
		{startRule{kind: startOffset, offset: 20}, resetLatest, 20, ""}, // the high watermark is in range
		{startRule{kind: startOffset, offset: -3}, resetLatest, 15, ""},
		{startRule{kind: startOffset, offset: -50}, resetLatest, 5, ""},
		{startRule{kind: startOffset, offset: 21}, resetLatest, 18,
			`Offset 21 is past the end of topic "t" partition 0 (20); starting at the end (offset 18), as --reset latest says.`},
		{startRule{kind: startOffset, offset: 500}, resetEarliest, 5,
			`Offset 500 is past the end of topic "t" partition 0 (20); starting at the beginning (offset 5), as --reset earliest says.`},
		{startRule{kind: startOffset, offset: 2}, resetEarliest, 5,
			`Offset 2 is before the start of topic "t" partition 0 (5); starting at the beginning (offset 5), as --reset earliest says.`},
	} {
		r := &offsetResolver{rule: tc.rule, reset: tc.reset}
		got, oor := r.start(b)
		var sentence string
		if oor != nil {
			sentence = oor.describe(fmt.Sprintf("Offset %d", oor.offset), tp{"t", 0})
		}
		if got != tc.want || sentence != tc.oor {
			t.Errorf("%+v with --reset %s: %d, %q; want %d, %q", tc.rule, tc.reset, got, sentence, tc.want, tc.oor)
		}
	}
}
