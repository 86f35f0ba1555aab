//go:build !race

package server

// poisonRecycledFrames: see poison_race.go.
const poisonRecycledFrames = false
