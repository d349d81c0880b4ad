// Package egress decides which addresses Gust's own process may connect to
// on a user's behalf: the URLs users give built-in feeds and actions
// (GitHub's baseUrl, Slack's apiUrl and incoming-webhook url, Socket Mode's
// WebSocket). Without it any user could make Gust call its own loopback
// services, the private network or a cloud's metadata service at
// 169.254.169.254 (server-side request forgery).
//
// A Policy allows public addresses only, unless an operator allows more
// (gust serve --egress-allow loopback,10.0.0.0/8). It is checked twice:
// CheckURL refuses an obviously bad URL (an address literal, localhost) when
// a feed is created, with a clear message; and Control, a net.Dialer
// Control function, checks every address actually dialed, after DNS
// resolution and on every redirect, so that a name that resolves (or
// rebinds) to a refused address cannot get past.
package egress
