//go:build !race

package daemon_test

// raceDetector: see race_test.go.
const raceDetector = false
