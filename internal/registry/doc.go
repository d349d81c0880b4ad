// Package registry is the map behind Gust's registries of plug-ins (feed
// providers, built-in actions): what is registered under its path
// "package/name", safe for concurrent use, listed in path order. The
// registries check what they are given and panic on a taken path; this
// package only keeps it.
package registry
