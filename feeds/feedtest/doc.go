// Package feedtest is the conformance suite every feed provider passes:
// instances return when their context ends, never emit after they
// returned, emit valid CloudEvents, and give a redelivered upstream event
// the same id. Call Run from the provider's tests.
//
// It also holds what those tests build on: Build and Provider (a
// registered provider's instance), Params and Config, Start and Running
// (an instance run until the test ends), Recorder and ValidEmit (emits
// that check and keep what they get), Deliver (a request to a receiver,
// answered as the API would), MemoryCheckpoint and Testdata.
package feedtest
