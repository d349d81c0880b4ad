// Package process is the local-process sandbox of the invoker: each
// container is a child process of Gust, the gust binary run as the action
// proxy (argv[0] "gust-proxy"), which starts the host's node or python as
// the language process. The invoker falls back to it when no Docker engine
// is reachable.
//
// It does not isolate anything. Actions run as Gust's own user, with Gust's
// file system, network and privileges, and no memory or process limits
// (Spec.MemoryMB is not enforced); only the environment is reduced to
// PATH, HOME, TMPDIR, LANG and what the Spec names. Use it for development
// and for trusted actions only.
//
// Each container gets a directory under the state directory,
// <state>/<owner>/<id>, holding the proxy's Unix socket, the action's code,
// a scratch TMPDIR and a pid file, by which RemoveLeftovers finds and kills
// the proxies an earlier run left behind. Pause and Resume send SIGSTOP and
// SIGCONT to the container's process group; Destroy kills it. Only Gust's
// runtime kinds (package actions/runtimes) run here, not blackbox images.
package process
