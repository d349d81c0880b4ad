// Package alarms is Gust's time-driven feeds, OpenWhisk's
// /whisk.system/alarms package: alarm (a cron schedule), once (a date) and
// interval (every so many minutes). Import it for its side effect, which
// registers the three providers:
//
//	import _ "github.com/gusthub/gust/feeds/alarms"
//
// and fire a trigger on a schedule with
//
//	wsk trigger create T --feed /whisk.system/alarms/alarm -p cron '*/5 * * * *'
//
// # Parameters
//
// alarm:
//   - cron (required): 5 fields (minute hour day-of-month month day-of-week)
//     or 6 with seconds first, as gronx reads them: lists, ranges, steps,
//     names (MON, JAN), L, W and #. When both day fields are restricted, a
//     day matching either fires, as in Vixie cron.
//   - timezone: the IANA zone the expression is read in (default UTC).
//   - startDate, stopDate: slots fire from startDate (inclusive) until
//     stopDate (exclusive); stopDate must be after startDate.
//   - strict: accepted for OpenWhisk compatibility and ignored. OpenWhisk
//     spreads non-strict 5-field alarms over the minute; Gust fires every
//     alarm at its slot.
//
// once:
//   - date (required): when to fire; at CREATE it must be in the future.
//   - deleteAfterFire: false (default), true (delete the trigger after it
//     fired) or rules (delete the trigger and its rules). A once alarm whose
//     date was missed (see below) finishes without deleting anything.
//
// interval:
//   - minutes (required): a whole number above 0.
//   - startDate: the first event. Default 30 seconds after the feed is
//     created, as OpenWhisk's; the default is stored as the feed's startDate
//     parameter, so every restart and every process counts intervals from it.
//   - stopDate: no event at or after it.
//
// All three:
//   - trigger_payload: the event's data. A JSON object is taken as it is; a
//     string s becomes {"payload": s} (as OpenWhisk's alarms wrap it), and
//     so does any other JSON value; absent, the data is {}.
//   - fireMissed: see Missed slots.
//
// Dates are milliseconds since 1970 or ISO 8601; one without a zone is
// UTC. The once alarm's date and any stopDate must be in the future when
// the feed is created or updated: the feeds' Validate method checks that,
// apart from New, because New also builds instances that resume after such
// a date passed (and then skip or fire what they missed, and finish). maxTriggers, deprecated by OpenWhisk, is refused (use
// stopDate), except for its "no limit" value -1. A bad parameter is a
// *feeds.ParamError that names it.
//
// # Events
//
// Each slot fires one CloudEvent:
//
//	id               <namespace>/<trigger>@<slot, RFC 3339 in UTC>, e.g. guest/T@2026-03-08T07:30:00Z
//	source           /whisk.system/alarms/<feed>          (alarm, once or interval)
//	type             dev.gust.alarms.<feed>               (TypePrefix + feed)
//	time             the slot (not the moment it fired)
//	datacontenttype  application/json
//	data             the payload (trigger_payload)
//
// The id is the trigger and the slot, so a slot fires once: JetStream drops
// a second event with the same id on the trigger, whichever process or
// restart sends it.
//
// # Time zones and daylight saving
//
// A cron expression is read in its zone's wall-clock time. A wall-clock
// time that a spring-forward change skips (02:30 in New York on 8 March
// 2026) is not a slot: that day has none. A wall-clock time that a
// fall-back change repeats (01:30 in New York on 1 November 2026) is, as in
// Vixie cron, a slot at both instants when the minute or hour field is a
// wildcard ("*/15 * * * *" fires every 15 minutes through both passes of
// the hour) and at the first instant only otherwise ("30 1 * * *" fires
// once, at 01:30 daylight time).
//
// # Missed slots and restarts
//
// The feed's checkpoint holds the last slot fired or skipped, so a
// restarted instance, or another process taking it over, fires no slot
// again. A slot fires at its time or up to a minute later (a restart, a
// takeover of the lease); a slot later than that was missed, and is skipped
// and logged. With fireMissed, the latest missed slot fires instead, once,
// when the feed resumes; earlier missed ones are skipped either way. A new
// alarm or interval feed does not count slots from before it first ran as
// missed; a once alarm does count its date. When the schedule has no slot
// left (stopDate reached, once fired), Run returns nil at the stop date, or
// asks for the trigger's deletion (deleteAfterFire).
package alarms
