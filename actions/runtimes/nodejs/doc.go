// Package nodejs holds Gust's nodejs launcher, the language process that
// the action proxy (actions/proxy) starts for nodejs actions.
//
// The launcher loads the action's code once and then answers the proxy's
// ActionLoop requests: a main function may be synchronous or async, a
// top-level function or exports.main / module.exports.main, under the name
// /init gave. A zip action is loaded with require on its directory, so the
// main field of its package.json picks the file. As in OpenWhisk's nodejs
// runtime, a rejected promise becomes the result {"error": <serialized
// reason>}, an application error, while an error main throws is a
// developer error {"error": "An error has occurred: <the error as a
// string>"}, with its stack in the logs; a result that is undefined
// becomes {}. With __OW_ALLOW_CONCURRENT=true in
// its environment the launcher runs requests concurrently.
package nodejs
