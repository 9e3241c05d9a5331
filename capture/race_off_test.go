//go:build !race

package capture

// raceEnabled is set under the race detector (the converter runs 10x slower).
const raceEnabled = false
