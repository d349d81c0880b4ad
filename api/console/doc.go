// Package console is Gust's web console: a page and a script, embedded in
// the binary, that the API serves at /console/. It signs in with a
// namespace key, kept in the browser tab's sessionStorage, and reads the
// namespace through the API (/api/v1) with Basic auth like any client:
// the live events (server-sent events of GET .../events), the trigger →
// rule → action graph, activations page by page with their result, logs
// and timing, each with the tree of its event (GET .../activations/{id}/tree
// of the top of its causes: trigger, rules, actions, sequence components),
// the feeds' status and the invoker's warm pool.
//
// It needs no network beyond the Gust it is served by: no CDN, no
// framework. The script builds the page with DOM calls and sets text only
// as text, never as markup.
package console
