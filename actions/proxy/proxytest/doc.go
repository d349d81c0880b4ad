// Package proxytest is the conformance suite of the action container
// protocol (OpenWhisk's /init and /run in ActionLoop mode, as package proxy
// implements it). Every way of running Gust's action proxy (in-process, as
// a local child process, in a Docker container) runs the same suite:
//
//	func TestProtocol(t *testing.T) {
//		proxytest.Run(t, func(t *testing.T, kind string, env map[string]string) proxytest.Target {
//			... start a fresh proxy for kind, register its cleanup ...
//		})
//	}
package proxytest
