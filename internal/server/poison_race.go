//go:build race

package server

// poisonRecycledFrames overwrites every recycled request frame in race-enabled
// builds (the test suite), so that a handler that keeps a slice of a request
// after recycling it sees garbage at once instead of, rarely, another
// request's bytes.
const poisonRecycledFrames = true
