//go:build race

package log

// raceEnabled makes the slowest cleaner tests sample their crash points
// under the race detector, which runs them about fifteen times slower.
const raceEnabled = true
