package alarms

import (
	"strings"
	"time"

	"github.com/adhocore/gronx"
)

// schedule is the set of slots of one alarm: the instants it fires at.
type schedule interface {
	// next returns the first slot strictly after after; ok is false when
	// there is none (a once alarm that passed, a stop date reached).
	next(after time.Time) (slot time.Time, ok bool)
}

// cronSchedule is the slots of a cron expression in a time zone, between
// optional start (inclusive) and stop (exclusive) dates.
//
// gronx matches an expression against a time's clock fields, so it is run
// on wall-clock times written in UTC, which has no daylight-saving changes;
// each wall-clock tick is then mapped back to an instant in the zone, one
// stretch of constant UTC offset at a time (time.Time.ZoneBounds). So a
// wall-clock time that a spring-forward change skips is not a slot, and one
// that a fall-back change repeats is a slot at both instants when the
// expression's minute or hour field is a wildcard ("*/15 * * * *" keeps
// firing every 15 minutes) and at the first instant only otherwise
// ("30 1 * * *" fires once): the rule of Vixie cron.
type cronSchedule struct {
	expr        string // normalized for gronx: seconds, 5 fields, year "*"
	loc         *time.Location
	wild        bool
	start, stop time.Time // zero: unbounded
}

// parseCron normalizes a 5-field (minute first) or 6-field (second first)
// expression for gronx; ok is false when it has another number of fields
// or gronx finds it invalid.
func parseCron(expr string) (norm string, wild bool, fields int, ok bool) {
	f := strings.Fields(expr)
	fields = len(f)
	switch fields {
	case 5:
		f = append([]string{"0"}, f...)
	case 6:
	default:
		return "", false, fields, false
	}
	norm = strings.Join(append(f, "*"), " ")
	if !gronx.IsValid(norm) {
		return "", false, fields, false
	}
	wild = strings.HasPrefix(f[1], "*") || strings.HasPrefix(f[2], "*")
	return norm, wild, fields, true
}

// maxSteps bounds the search for the next slot: each step either finds it,
// moves on to the next stretch of the zone's offset (a couple a year) or
// passes over a slot in a repeated hour (at most 3600 of them).
const maxSteps = 10000

func (c *cronSchedule) next(after time.Time) (time.Time, bool) {
	from, incl := after, false
	if !c.start.IsZero() && from.Before(c.start) {
		from, incl = c.start, true
	}
	for range maxSteps {
		t := from.In(c.loc)
		_, off := t.Zone()
		_, end := t.ZoneBounds() // zero: the offset never changes again
		wall := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
		if incl && wall.Nanosecond() != 0 {
			wall = wall.Truncate(time.Second).Add(time.Second)
		}
		tick, err := gronx.NextTickAfter(c.expr, wall, incl)
		if err != nil {
			return time.Time{}, false // the expression matches no date
		}
		slot := tick.Add(-time.Duration(off) * time.Second)
		if !end.IsZero() && !slot.Before(end) {
			from, incl = end, true // the wall-clock time is in the next stretch, or does not exist
			continue
		}
		if !c.stop.IsZero() && !slot.Before(c.stop) {
			return time.Time{}, false
		}
		if !c.wild && repeated(slot, c.loc) {
			from, incl = slot, false
			continue
		}
		return slot.UTC(), true
	}
	return time.Time{}, false
}

// repeated reports whether t's wall-clock time in loc already happened
// earlier, in the hour a fall-back change repeats.
func repeated(t time.Time, loc *time.Location) bool {
	t = t.In(loc)
	start, _ := t.ZoneBounds()
	if start.IsZero() {
		return false
	}
	_, before := start.Add(-time.Second).Zone()
	_, off := t.Zone()
	gap := time.Duration(before-off) * time.Second
	return gap > 0 && t.Before(start.Add(gap))
}

// intervalSchedule fires at start and every period after it, before stop.
type intervalSchedule struct {
	start  time.Time
	period time.Duration
	stop   time.Time // zero: never
}

func (s *intervalSchedule) next(after time.Time) (time.Time, bool) {
	slot := s.start
	if !after.Before(s.start) {
		slot = s.start.Add((after.Sub(s.start)/s.period + 1) * s.period)
	}
	if !s.stop.IsZero() && !slot.Before(s.stop) {
		return time.Time{}, false
	}
	return slot.UTC(), true
}

// onceSchedule fires at date.
type onceSchedule struct{ date time.Time }

func (s *onceSchedule) next(after time.Time) (time.Time, bool) {
	if !s.date.After(after) {
		return time.Time{}, false
	}
	return s.date.UTC(), true
}

// latestDue returns the latest slot in (after, now] and the first one, which
// are the same unless slots were missed; ok is false when none is due. It
// does not walk every slot since after: a feed down for a month with a cron
// that fires every second finds its latest due slot in a few steps.
func latestDue(s schedule, after, now time.Time) (latest, first time.Time, ok bool) {
	first, ok = s.next(after)
	if !ok || first.After(now) {
		return time.Time{}, time.Time{}, false
	}
	from := after
	// The smallest window before now, doubling from a second to about 68
	// years, that holds a due slot; its slots are then walked.
	for k := range 32 {
		w := time.Second << k
		f := now.Add(-w)
		if !f.After(after) {
			break
		}
		if slot, ok := s.next(f); ok && !slot.After(now) {
			from = f
			break
		}
	}
	latest, _ = s.next(from)
	for {
		n, ok := s.next(latest)
		if !ok || n.After(now) {
			return latest, first, true
		}
		latest = n
	}
}
