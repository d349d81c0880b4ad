// Package workers runs functions on goroutines that wait for the next one
// when done instead of ending (Group): a new goroutine's stack starts small
// and grows by copying (runtime.morestack), and Gust's hot loops (a
// consumer's messages in hub.Consume, the invoker's blocking calls run off
// the queue) would pay for that growth once per message or call.
package workers
