//go:build race

package partition

// raceEnabled makes TestCrashFollower sample its crash points under the
// race detector, which makes it about ten times slower.
const raceEnabled = true
