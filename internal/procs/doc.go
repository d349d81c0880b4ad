// Package procs decides how many threads run Gust's Go code at once
// (GOMAXPROCS) under `gust serve`.
//
// Gust shares its machine with the action containers it runs: every
// activation is a round trip between Gust's goroutines and a process in a
// container. With a P for every CPU, Go's scheduler keeps threads spinning
// for work between those round trips, on the CPUs the container needs. So
// serve leaves half the CPUs to the actions unless told otherwise (the
// --procs flag or the GOMAXPROCS variable). On the 2-CPU machine of the
// benchmarks this cut the warm invoke p50 by about a fifth and Gust's CPU
// per invoke by about a fifth; see README.md, "Performance".
package procs
