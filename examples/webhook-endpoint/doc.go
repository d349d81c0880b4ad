// Package webhookendpoint is a runnable example: a raw web action that
// verifies Stripe-style signed webhooks and fires a trigger whose rule runs
// a second action. See README.md; example_test.go runs it.
package webhookendpoint
