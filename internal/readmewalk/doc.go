// Package readmewalk holds the README walk-through: a test that runs every
// command block of the repository's README.md, in order, against real
// daemons, so that the README cannot go stale. It has no code of its own
// beyond the test; see walk_test.go for how blocks are run and what is
// substituted.
package readmewalk
