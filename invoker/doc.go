// Package invoker runs actions: it keeps a pool of warm containers per
// namespace and action version, pre-warmed stem cells per runtime kind, and
// executes activations in them through the OpenWhisk action protocol
// (/init, /run), collecting logs and writing activation records.
//
// Containers come from a Sandbox, an interface this package declares and
// invoker/docker and invoker/process implement.
package invoker
