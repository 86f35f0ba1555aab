//go:build race

package log

// raceEnabled makes the crash tests sample their crash points under the
// race detector, which runs them about ten times slower (crashStride);
// make test runs them again without it, at every crash point.
const raceEnabled = true
