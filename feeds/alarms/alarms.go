package alarms

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
	_ "time/tzdata" // time zones work on a machine without a zoneinfo database

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/internal/backoff"
)

func init() {
	feeds.Register(alarmProvider)
	feeds.Register(onceProvider)
	feeds.Register(intervalProvider)
}

// The parameters all three feeds take.
var (
	payloadParam = feeds.Param{Name: "trigger_payload", Type: feeds.JSON,
		Description: "The event's data: a JSON object as is, a string s as {\"payload\": s}. Default {}."}
	fireMissedParam = feeds.Param{Name: "fireMissed", Type: feeds.Bool,
		Description: "true: a slot missed while Gust was down fires once (the latest) when it is back, instead of being skipped."}
	stopParam = feeds.Param{Name: "stopDate", Type: feeds.Time,
		Description: "No slot at or after this date fires; the feed then finishes. Milliseconds since 1970 or ISO 8601."}
	maxTriggersParam = feeds.Param{Name: "maxTriggers", Type: feeds.Int, Default: int64(-1),
		Description: "Deprecated by OpenWhisk and not supported: only -1 (no limit) is accepted; use stopDate."}
)

var alarmProvider = feeds.Provider{
	Package:     "alarms",
	Name:        "alarm",
	Description: "Fires the trigger on a cron schedule.",
	Params: []feeds.Param{
		{Name: "cron", Type: feeds.String, Required: true,
			Description: "When to fire: 5 fields (minute hour day month weekday) or 6 (seconds first), e.g. '*/5 * * * *'."},
		{Name: "timezone", Type: feeds.String, Default: "UTC", Description: "The IANA time zone the cron expression is read in, e.g. Europe/Berlin. Default UTC."},
		{Name: "startDate", Type: feeds.Time, Description: "No slot before this date fires. Milliseconds since 1970 or ISO 8601."},
		stopParam,
		payloadParam,
		fireMissedParam,
		maxTriggersParam,
		{Name: "strict", Type: feeds.Bool, Description: "Accepted for OpenWhisk compatibility: Gust always fires at the exact slot."},
	},
	New: newAlarm,
}

var onceProvider = feeds.Provider{
	Package:     "alarms",
	Name:        "once",
	Description: "Fires the trigger once, at a date.",
	Params: []feeds.Param{
		{Name: "date", Type: feeds.Time, Required: true, Description: "When to fire, in the future. Milliseconds since 1970 or ISO 8601."},
		{Name: "deleteAfterFire", Type: feeds.Enum, Enum: []string{"false", "true", "rules"}, Default: "false",
			Description: "false (default), true (delete the trigger after it fired) or rules (delete the trigger and its rules)."},
		payloadParam,
		fireMissedParam,
		maxTriggersParam,
	},
	New: newOnce,
}

var intervalProvider = feeds.Provider{
	Package:     "alarms",
	Name:        "interval",
	Description: "Fires the trigger every so many minutes.",
	Params: []feeds.Param{
		{Name: "minutes", Type: feeds.Int, Required: true, Description: "The minutes between two events, a whole number above 0."},
		{Name: "startDate", Type: feeds.Time, Description: "The first event's date. Default: 30 seconds after the feed is created."},
		stopParam,
		payloadParam,
		fireMissedParam,
		maxTriggersParam,
	},
	New: newInterval,
}

// lateLimit is how late a slot may fire (after a restart, or when another
// process takes over the feed) before it counts as missed.
const lateLimit = time.Minute

// maxSleep bounds one wait, so that a jump of the wall clock (a suspended
// machine) delays no slot for long.
const maxSleep = 10 * time.Minute

// defaultIntervalStart is when an interval feed without startDate first
// fires, after its creation (as OpenWhisk's does).
const defaultIntervalStart = 30 * time.Second

// alarm is a running instance of any of the three feeds: a schedule, and
// what it fires.
type alarm struct {
	feed       string // "alarm", "once" or "interval"
	sched      schedule
	payload    []byte
	fireMissed bool

	// once only: the date, and what to return after firing it.
	oneShot     bool
	date        time.Time
	afterFiring error

	stop time.Time // zero: none

	cfg feeds.Config
	log *slog.Logger
}

var _ feeds.Feed = (*alarm)(nil)

// common reads the parameters all three feeds take.
func common(feed string, cfg feeds.Config) (*alarm, error) {
	a := &alarm{feed: feed, cfg: cfg, log: cfg.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.cfg.Now == nil {
		a.cfg.Now = time.Now
	}
	var err error
	if a.payload, err = payload(cfg.Values); err != nil {
		return nil, err
	}
	a.fireMissed = cfg.Values.Bool("fireMissed")
	if cfg.Values.Int("maxTriggers") != -1 {
		return nil, feeds.Invalid("maxTriggers", "is not supported (OpenWhisk deprecated it): use stopDate")
	}
	return a, nil
}

// dates reads startDate and stopDate; stop must be after start.
func dates(v feeds.Values) (start, stop time.Time, err error) {
	start, stop = v.Time("startDate"), v.Time("stopDate")
	if !start.IsZero() && !stop.IsZero() && !stop.After(start) {
		err = feeds.Invalid("stopDate", "must be after startDate (%s), not %s", iso(start), iso(stop))
	}
	return
}

func newAlarm(cfg feeds.Config) (feeds.Source, error) {
	a, err := common("alarm", cfg)
	if err != nil {
		return nil, err
	}
	expr := cfg.Values.String("cron")
	norm, wild, n, ok := parseCron(expr)
	switch {
	case n != 5 && n != 6:
		return nil, feeds.Invalid("cron", "must have 5 fields (minute hour day month weekday) or 6 (seconds first), not %d: %q", n, expr)
	case !ok:
		return nil, feeds.Invalid("cron", "is not a valid cron expression: %q", expr)
	}
	tz := cfg.Values.String("timezone")
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "Local" {
		return nil, feeds.Invalid("timezone", "is not an IANA time zone such as Europe/Berlin: %q", tz)
	}
	// strict (a Bool) is accepted and ignored: every alarm fires at its slot.
	start, stop, err := dates(cfg.Values)
	if err != nil {
		return nil, err
	}
	c := &cronSchedule{expr: norm, loc: loc, wild: wild, start: start}
	if _, ok := c.next(start); !ok {
		return nil, feeds.Invalid("cron", "matches no date: %q", expr)
	}
	c.stop = stop
	a.sched, a.stop = c, stop
	return a, nil
}

func newOnce(cfg feeds.Config) (feeds.Source, error) {
	a, err := common("once", cfg)
	if err != nil {
		return nil, err
	}
	a.date = cfg.Values.Time("date")
	switch cfg.Values.String("deleteAfterFire") {
	case "true":
		a.afterFiring = feeds.ErrDeleteTrigger
	case "rules":
		a.afterFiring = feeds.ErrDeleteTriggerAndRules
	}
	a.oneShot, a.sched = true, &onceSchedule{date: a.date}
	return a, nil
}

func newInterval(cfg feeds.Config) (feeds.Source, error) {
	a, err := common("interval", cfg)
	if err != nil {
		return nil, err
	}
	minutes := cfg.Values.Int("minutes")
	if minutes <= 0 || minutes > 1<<20 {
		return nil, feeds.Invalid("minutes", "must be a whole number from 1 to %d, not %d", 1<<20, minutes)
	}
	start, stop, err := dates(cfg.Values)
	if err != nil {
		return nil, err
	}
	if start.IsZero() {
		// A generated parameter, stored with the feed: every process and
		// every restart counts the intervals from the same start.
		start = cfg.Now().Add(defaultIntervalStart).Truncate(time.Millisecond)
		cfg.Params.Set("startDate", iso(start))
		if !stop.IsZero() && !stop.After(start) {
			return nil, feeds.Invalid("stopDate", "must be after the first event (%s), not %s", iso(start), iso(stop))
		}
	}
	a.sched = &intervalSchedule{start: start, period: time.Duration(minutes) * time.Minute, stop: stop}
	a.stop = stop
	return a, nil
}

// Validate rejects dates that have passed: a once alarm's date, a stop
// date. New does not, because it also builds instances that resume after
// such a date passed (and then skip, or fire, what they missed).
func (a *alarm) Validate() error {
	now := a.cfg.Now()
	if a.oneShot && !a.date.After(now) {
		return feeds.Invalid("date", "must be in the future, not %s (now is %s)", iso(a.date), iso(now))
	}
	if !a.stop.IsZero() && !a.stop.After(now) {
		return feeds.Invalid("stopDate", "must be in the future, not %s (now is %s)", iso(a.stop), iso(now))
	}
	return nil
}

// payload is the events' data: trigger_payload as a JSON object, anything
// else wrapped as {"payload": value}, {} when absent.
func payload(v feeds.Values) ([]byte, error) {
	raw := v.JSON("trigger_payload")
	if raw == nil {
		return []byte("{}"), nil
	}
	var buf bytes.Buffer
	if raw[0] == '{' {
		if err := json.Compact(&buf, raw); err != nil {
			return nil, feeds.Invalid("trigger_payload", "is not JSON: %v", err)
		}
		return buf.Bytes(), nil
	}
	if !json.Valid(raw) {
		return nil, feeds.Invalid("trigger_payload", "is not JSON")
	}
	return json.Marshal(map[string]json.RawMessage{"payload": raw})
}

// progress is the checkpoint: every slot up to Last was fired or skipped;
// Fired is the last slot fired.
type progress struct {
	Last  time.Time `json:"last"`
	Fired time.Time `json:"fired,omitzero"`
}

// Run fires the slots of the schedule until ctx ends or the schedule has
// no more. A slot fires at its time, or up to lateLimit later; a later one
// was missed, and only the latest missed slot fires, and only with
// fireMissed. The checkpoint records each slot fired or skipped, so a
// restarted instance, or another process taking it over, fires no slot
// twice; the event id (trigger and slot) lets JetStream drop the one
// duplicate a crash between firing and checkpointing could make.
func (a *alarm) Run(ctx context.Context, emit feeds.Emit) error {
	p, err := a.load(ctx)
	if err != nil {
		return err
	}
	next, ok := a.sched.next(p.Last)
	for ok {
		now := a.cfg.Now()
		if now.Before(next) {
			if !sleep(ctx, next.Sub(now)) {
				return nil
			}
			continue
		}
		slot, first, _ := latestDue(a.sched, p.Last, now)
		if !first.Equal(slot) {
			a.log.Warn("alarm slots missed", "from", first, "until", slot)
		}
		late := now.Sub(slot)
		if late <= lateLimit || a.fireMissed {
			if err := emit(ctx, a.event(slot)); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("fire alarm slot %s: %w", iso(slot), err)
			}
			p.Fired = slot
			a.log.Debug("alarm fired", "slot", slot, "late", late)
		} else {
			a.log.Warn("alarm slot missed", "slot", slot, "late", late)
		}
		p.Last = slot
		if err := a.save(ctx, p); err != nil {
			return err
		}
		next, ok = a.sched.next(p.Last)
	}
	return a.finish(ctx, p)
}

// finish waits for the stop date, then ends the instance: a once alarm
// that fired with deleteAfterFire asks for its trigger to be deleted.
func (a *alarm) finish(ctx context.Context, p progress) error {
	for !a.stop.IsZero() && a.cfg.Now().Before(a.stop) {
		if !sleep(ctx, a.stop.Sub(a.cfg.Now())) {
			return nil
		}
	}
	if a.oneShot && p.Fired.IsZero() {
		a.log.Warn("alarm finished without firing")
		return nil
	}
	a.log.Info("alarm finished")
	return a.afterFiring
}

// sleep waits d, at most maxSleep; false means ctx ended.
func sleep(ctx context.Context, d time.Duration) bool { return backoff.Wait(ctx, min(d, maxSleep)) }

// load reads the checkpoint. A new instance starts now, so that a cron
// schedule's past slots do not count as missed (a once alarm's date does,
// when it passed before the instance first ran), and saves that at once,
// so that what it misses from then on is known after a restart.
func (a *alarm) load(ctx context.Context) (progress, error) {
	var p progress
	b, err := a.cfg.Checkpoint.Load(ctx)
	if err != nil {
		return p, err
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &p); err == nil {
			return p, nil
		}
		a.log.Warn("alarm checkpoint unreadable, starting afresh", "checkpoint", string(b))
	}
	if !a.oneShot {
		p.Last = a.cfg.Now()
	}
	return p, a.save(ctx, p)
}

// save writes the checkpoint, even when ctx just ended: the slot fired.
func (a *alarm) save(ctx context.Context, p progress) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := a.cfg.Checkpoint.Save(ctx, b); err != nil {
		return fmt.Errorf("save alarm checkpoint: %w", err)
	}
	return nil
}

// TypePrefix starts the type of every alarm event; the feed's name ends it.
const TypePrefix = "dev.gust.alarms."

// event is the CloudEvent of slot.
func (a *alarm) event(slot time.Time) event.Event {
	e := event.New()
	e.SetID(a.cfg.Trigger.Namespace + "/" + a.cfg.Trigger.Name + "@" + slot.UTC().Format(time.RFC3339Nano))
	e.SetSource("/whisk.system/alarms/" + a.feed)
	e.SetType(TypePrefix + a.feed)
	e.SetTime(slot)
	_ = e.SetData(event.ApplicationJSON, a.payload) // bytes are taken as they are
	return e
}

// iso writes t as OpenWhisk's feeds do: UTC, milliseconds.
func iso(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
