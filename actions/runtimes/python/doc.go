// Package python holds Gust's python launcher, the language process that
// the action proxy (actions/proxy) starts for python actions.
//
// The launcher loads the action's code once and then answers the proxy's
// ActionLoop requests one at a time by calling the entry point, by default
// def main(args). A zip action must hold a __main__.py at its root; its
// directory is put first on sys.path. As in OpenWhisk's python runtime, an
// exception becomes the result {"error": str(exception)}, an application
// error, with its traceback in the logs.
package python
