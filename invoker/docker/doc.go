// Package docker runs action proxies in containers on a Docker engine. It
// implements invoker.Sandbox with the Docker Engine API client.
//
// The invoker reaches a container only through a Unix socket in a
// bind-mounted host directory (Gust's own runtime images, whose proxy serves
// on $GUST_PROXY_SOCKET) or through container port 8080 published on
// 127.0.0.1 (blackbox images), never through a bridge IP.
//
// Containers run with a memory limit and no swap, a pids limit, a nofile
// ulimit, all capabilities dropped and no-new-privileges. Gust's runtime
// images also run as uid 65534 on a read-only root file system with small
// tmpfs mounts for the directories the proxy writes.
//
// Actions reach Gust's API at __OW_API_HOST, the container's own
// 127.0.0.1:3233, which the proxy forwards to the API's Unix socket in a
// bind-mounted directory (Options.APISocketDir). A blackbox image has no
// Gust proxy, so its container runs a read-only mounted static gust first
// (Options.APIForwarder), which forwards the API and runs the image's own
// command under it as PID 1.
//
// Nothing is ever pulled from a registry. Sandbox.EnsureImage builds a
// runtime image from a runtimes.Recipe through the engine's build API
// (FROM scratch plus files from the host), and a missing blackbox image is
// reported as ErrImageNotFound.
package docker
