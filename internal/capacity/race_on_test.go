//go:build race

package capacity

// raceOn: the race detector instruments every memory access, which
// multiplies the measured hashing cost several times.
const raceOn = true
