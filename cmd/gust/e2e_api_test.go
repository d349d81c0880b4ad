package main

import (
	"testing"
)

// apiCallerCode lists the namespace's actions through __OW_API_HOST with
// __OW_API_KEY, as actions that use OpenWhisk's client libraries do.
const apiCallerCode = `async function main() {
  const auth = 'Basic ' + Buffer.from(process.env.__OW_API_KEY).toString('base64');
  const r = await fetch(process.env.__OW_API_HOST + '/api/v1/namespaces/_/actions', { headers: { Authorization: auth } });
  const list = await r.json();
  return { status: r.status, host: process.env.__OW_API_HOST, names: list.map(a => a.name) };
}`

// TestE2EActionCallsAPI: an action in a Docker container reaches Gust's
// API at __OW_API_HOST, with no route from the container to the host: its
// proxy forwards the container's own 127.0.0.1:3233 to the API's Unix
// socket.
func TestE2EActionCallsAPI(t *testing.T) {
	requireEngine(t)
	g := startGust(t, t.TempDir())
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/caller", withAnnotations(nodeAction(apiCallerCode), "provide-api-key", true), nil)
	var res struct {
		Status int
		Host   string
		Names  []string
	}
	g.mustCall(t, 200, "POST", "/namespaces/_/actions/caller?blocking=true&result=true", nil, &res)
	if res.Status != 200 || res.Host != "http://127.0.0.1:3233" || len(res.Names) != 1 || res.Names[0] != "caller" {
		t.Errorf("the action's API call: %+v", res)
	}
}
