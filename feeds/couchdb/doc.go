// Package couchdb is the CouchDB change feed, /whisk.system/couchdb/changes
// (the name OpenWhisk's Cloudant package users know): every change of a
// database's documents fires the trigger. It works with CouchDB 1, 2 and 3
// and with CouchDB-compatible servers such as pouchdb-server. Import it for
// its side effect, which registers the provider:
//
//	import _ "github.com/gusthub/gust/feeds/couchdb"
//
// and follow a database with
//
//	gust trigger create T --feed couchdb/changes -p url http://127.0.0.1:5984 -p dbname orders
//
// # Parameters
//
//   - url (required): the server, http:// or https://; user:password@ in it
//     is taken as the credentials.
//   - dbname (required): the database.
//   - username, password (secret): HTTP basic authentication.
//   - filter: a design document filter, ddoc/name, with query_params (a
//     JSON object) as its request's query.
//   - include_docs: true puts each changed document into its event.
//   - since: where a new feed starts: now (the default), 0 (every change
//     the database has) or a sequence the server gave.
//
// # Events
//
// Each change is one CloudEvent: type org.apache.couchdb.document.changed,
// or org.apache.couchdb.document.deleted for a deletion; source
// couchdb://<host:port>/<dbname>; subject the document id (control
// characters percent-encoded, hub.SafeAttribute); id the
// database and the change's seq (<dbname>/<seq>); data the change as the
// server wrote it ({"seq","id","changes","deleted","doc"}).
//
// # Delivery
//
// The feed follows _changes?feed=continuous with heartbeats (and longpolls
// when a server refuses the continuous feed). It treats seq as opaque (a
// string in CouchDB 2+, a number in PouchDB) and checkpoints it in
// JetStream after each event is stored, so a restart, or another Gust
// process taking the feed over, resumes with the next change. A crash
// between the two sends one change again; its id is the same and the
// events stream's duplicate window drops it. A new feed asks the server
// for "now" and checkpoints it at once, so changes made while Gust is down
// are not skipped.
//
// A connection that breaks is opened again at once; a server that is
// unreachable, refuses the credentials or has no such database is an
// error that READ shows (status.lastError) while the feed tries again with
// a growing backoff.
package couchdb
