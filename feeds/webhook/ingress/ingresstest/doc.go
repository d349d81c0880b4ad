// Package ingresstest helps test HTTP feeds: a real HTTP server in front
// of a receiver, as the API serves it (Server, Handler, Send, Refused,
// Accepted, Header), the fuzz check every receiver passes (Fuzz), and the
// parallel senders of their benchmarks (Load, in load.go).
package ingresstest
