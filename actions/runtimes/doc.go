// Package runtimes knows Gust's own runtime kinds: how to start their
// language process under the action proxy on this host (HostArgs, for the
// local-process sandbox) and how to assemble their image FROM scratch out of
// the local toolchain (RecipeFor, for the Docker sandbox), so that a fresh
// machine with a Docker engine and no registry can run actions.
//
// An image holds the proxy binary as /gust-proxy, its entry point; the
// launcher under /gust; and the host's interpreter with every library ldd
// lists, the dynamic loader, and for python the standard library. The
// proxy writes the action's code to /action, which the sandbox must make
// writable (a tmpfs).
//
// The launchers live in the subpackages nodejs, python and native.
package runtimes
