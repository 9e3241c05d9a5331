//go:build !race

package converter

// raceEnabled is set when tests run under the race detector (10x slower).
const raceEnabled = false
