// Package disktest makes small disks for tests of what Gust does when its
// disk is full: a tmpfs of a few MB mounted for one test, and a file that
// fills it.
//
// It is a test helper: only _test.go files import it.
package disktest
