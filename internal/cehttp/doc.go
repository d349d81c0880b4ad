// Package cehttp reads CloudEvents from HTTP requests, in the three content
// modes of the CloudEvents HTTP binding: binary (attributes in ce- headers,
// the body as data), structured (application/cloudevents+json) and batch
// (application/cloudevents-batch+json). Both doors through which events
// enter Gust use it: a trigger fire through the API and the CloudEvents
// ingress feed, so that an event is read the same way whichever it took.
//
// What is wrong with a request is an *Error with the HTTP status to answer
// and a message that names the attribute at fault.
package cehttp
