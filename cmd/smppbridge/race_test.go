//go:build race

package main

// raceEnabled: the crash test builds the daemon with -race too, so that
// restarts under load are also checked for data races.
const raceEnabled = true
