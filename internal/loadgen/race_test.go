//go:build race

package loadgen

// raceEnabled reports a -race build, whose sync.Pool drops items at random:
// code that reuses pooled buffers (crypto/tls does) allocates under it.
const raceEnabled = true
