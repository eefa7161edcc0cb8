//go:build race

package daemon_test

// raceDetector is set when the tests run with -race, which slows every
// run several times over: the load test then schedules fewer syncs.
const raceDetector = true
