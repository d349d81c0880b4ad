// Package native is the launcher of native actions: an executable /exec
// run once per activation, with OpenWhisk's docker skeleton semantics. The
// activation's parameters are the executable's only argument, as JSON; the
// last line it writes on stdout is the result and the earlier lines are
// logs; its stderr is passed through.
//
// Unlike the nodejs and python launchers, this one is Go code: the action
// proxy (actions/proxy) runs a copy of itself as the language process and
// calls Loop, so a runtime image needs no shell or interpreter.
package native
