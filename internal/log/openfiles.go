package log

const (
	minDefaultOpenFiles = 1024
	maxDefaultOpenFiles = 65536
)

// clampOpenFiles bounds a default derived from the open-file limit.
func clampOpenFiles(n uint64) int {
	return int(min(max(n, minDefaultOpenFiles), maxDefaultOpenFiles))
}
