package alarms

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/feedtest"
)

func params(kv ...any) feeds.Params {
	p := feeds.Params{}
	for i := 0; i < len(kv); i += 2 {
		p.Set(kv[i].(string), kv[i+1])
	}
	return p
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestConformance runs the suite every provider passes, on synctest's
// clock (which starts at 2000-01-01T00:00:00Z).
func TestConformance(t *testing.T) {
	for _, c := range []feedtest.Case{
		{Provider: alarmProvider, Params: params("cron", "*/10 * * * * *", "trigger_payload", "tick")},
		{Provider: onceProvider, Params: params("date", "2000-01-01T00:01:00Z")},
		{Provider: intervalProvider, Params: params("minutes", 5)},
	} {
		c.Synctest = true
		t.Run(c.Provider.Name, func(t *testing.T) { feedtest.Run(t, c) })
	}
}

func TestRegistered(t *testing.T) {
	for _, path := range []string{"alarms/alarm", "alarms/once", "alarms/interval"} {
		if _, ok := feeds.Registered().Lookup(path); !ok {
			t.Errorf("%s is not registered", path)
		}
	}
}

// clockAt is a clock that reads start when called, and runs on from there
// with time.Now (synctest's fake time in a bubble).
func clockAt(start time.Time) func() time.Time {
	shift := time.Until(start)
	return func() time.Time { return time.Now().Add(shift) }
}

// running is an instance under test.
type running struct {
	rec     *feedtest.Recorder
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

func config(params feeds.Params, now func() time.Time, cp feeds.Checkpoint) feeds.Config {
	return feeds.Config{
		Trigger:    actions.Name{Namespace: "guest", Name: "T"},
		Params:     params.Clone(),
		Checkpoint: cp,
		Logger:     slog.New(slog.DiscardHandler),
		Now:        now,
	}
}

func start(t *testing.T, p feeds.Provider, params feeds.Params, now func() time.Time, cp feeds.Checkpoint) *running {
	t.Helper()
	f, err := p.Build(config(params, now, cp))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{rec: feedtest.NewRecorder(t), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- f.(feeds.Feed).Run(ctx, r.rec.Emit) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the instance and returns what Run returned.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.stopped {
		return
	}
	r.stopped = true
	r.cancel()
	if err := <-r.done; err != nil {
		t.Errorf("Run returned %v on cancel", err)
	}
}

// finished waits for Run to return by itself.
func (r *running) finished(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- nil // for stop
		return err
	case <-time.After(within):
		t.Fatalf("Run did not return within %v", within)
		return nil
	}
}

// slots waits for n events and returns their times in UTC, RFC 3339.
func (r *running) slots(t *testing.T, n int) []string {
	t.Helper()
	evs := r.rec.WaitFor(t, n, 400*24*time.Hour)
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Time().UTC().Format(time.RFC3339)
		if want := "guest/T@" + out[i]; e.ID() != want {
			t.Errorf("event id %q, want %q", e.ID(), want)
		}
	}
	return out
}

func equal(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("slots\n got %v\nwant %v", got, want)
	}
}

// TestCron fires cron alarms, 5 and 6 fields, in time zones and across
// daylight-saving changes: a skipped wall-clock time does not fire; a
// repeated one fires at both instants for a wildcard minute or hour, at
// the first otherwise.
func TestCron(t *testing.T) {
	for _, c := range []struct {
		name, cron, tz, from string
		want                 []string
	}{
		{"5 fields", "*/15 * * * *", "", "2026-01-01T00:00:00Z",
			[]string{"2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z"}},
		{"6 fields, seconds first", "*/20 * * * * *", "", "2026-01-01T00:00:00Z",
			[]string{"2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z", "2026-01-01T00:01:00Z"}},
		{"names and both day fields (either matches)", "0 12 13 * FRI", "UTC", "2026-02-01T00:00:00Z",
			[]string{"2026-02-06T12:00:00Z", "2026-02-13T12:00:00Z", "2026-02-20T12:00:00Z", "2026-02-27T12:00:00Z", "2026-03-06T12:00:00Z"}},
		{"zone offset", "0 9 * * *", "Europe/Berlin", "2026-01-10T00:00:00Z",
			[]string{"2026-01-10T08:00:00Z", "2026-01-11T08:00:00Z"}},
		{"New York spring forward: 02:30 does not exist on 8 March", "30 2 * * *", "America/New_York", "2026-03-06T17:00:00Z",
			[]string{"2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"}},
		{"New York spring forward, every 30 minutes", "*/30 * * * *", "America/New_York", "2026-03-08T06:15:00Z",
			[]string{"2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"}},
		{"New York fall back: 01:30 fires once, in daylight time", "30 1 * * *", "America/New_York", "2026-10-30T17:00:00Z",
			[]string{"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"New York fall back, every 30 minutes through both passes", "*/30 * * * *", "America/New_York", "2026-11-01T04:45:00Z",
			[]string{"2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z", "2026-11-01T07:00:00Z"}},
		{"New York fall back, a fixed hour with seconds", "0 0 1 * * *", "America/New_York", "2026-10-31T12:00:00Z",
			[]string{"2026-11-01T05:00:00Z", "2026-11-02T06:00:00Z"}},
		{"Berlin spring forward: 02:30 does not exist on 29 March", "30 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z",
			[]string{"2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z"}},
		{"Berlin fall back: 02:30 fires once on 25 October", "30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z",
			[]string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"Berlin fall back, hourly through both passes", "0 * * * *", "Europe/Berlin", "2026-10-24T23:30:00Z",
			[]string{"2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := params("cron", c.cron)
				if c.tz != "" {
					p.Set("timezone", c.tz)
				}
				r := start(t, alarmProvider, p, clockAt(ts(c.from)), &feedtest.MemoryCheckpoint{})
				equal(t, r.slots(t, len(c.want)), c.want)
			})
		})
	}
}

// TestCronFiresOnTime checks that an event is emitted at its slot on the
// clock, not before and not late.
func TestCronFiresOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := clockAt(ts("2026-05-01T10:00:00Z"))
		r := start(t, alarmProvider, params("cron", "0 */5 * * * *"), now, &feedtest.MemoryCheckpoint{})
		time.Sleep(5*time.Minute - time.Nanosecond)
		synctest.Wait()
		if n := len(r.rec.Events()); n != 0 {
			t.Fatalf("%d events before the first slot", n)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if evs := r.rec.Events(); len(evs) != 1 || !evs[0].Time().Equal(now()) {
			t.Fatalf("at the slot %v: %d events", now(), len(evs))
		}
	})
}

func TestStartStopDates(t *testing.T) {
	for _, c := range []struct {
		name   string
		p      feeds.Provider
		params feeds.Params
		want   []string
	}{
		{"alarm", alarmProvider, params("cron", "*/10 * * * * *",
			"startDate", "2026-01-01T00:01:00Z", "stopDate", ts("2026-01-01T00:01:30Z").UnixMilli()),
			[]string{"2026-01-01T00:01:00Z", "2026-01-01T00:01:10Z", "2026-01-01T00:01:20Z"}},
		{"interval", intervalProvider, params("minutes", 10,
			"startDate", "2026-01-01T00:05:00Z", "stopDate", "2026-01-01T00:25:00Z"),
			[]string{"2026-01-01T00:05:00Z", "2026-01-01T00:15:00Z"}},
		{"interval at the stop date", intervalProvider, params("minutes", 10,
			"startDate", "2026-01-01T00:05:00Z", "stopDate", "2026-01-01T00:26:00Z"),
			[]string{"2026-01-01T00:05:00Z", "2026-01-01T00:15:00Z", "2026-01-01T00:25:00Z"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				now := clockAt(ts("2026-01-01T00:00:00Z"))
				r := start(t, c.p, c.params, now, &feedtest.MemoryCheckpoint{})
				if err := r.finished(t, 24*time.Hour); err != nil {
					t.Fatalf("Run returned %v after the stop date, want nil", err)
				}
				stop, _, _ := c.params.Time("stopDate")
				if !now().Equal(stop) {
					t.Errorf("Run returned at %v, want the stop date %v", now(), stop)
				}
				equal(t, r.slots(t, 0), c.want)
			})
		})
	}
}

func TestOnce(t *testing.T) {
	for _, c := range []struct {
		deleteAfterFire any
		want            error
	}{
		{nil, nil},
		{false, nil},
		{"false", nil},
		{true, feeds.ErrDeleteTrigger},
		{"true", feeds.ErrDeleteTrigger},
		{"rules", feeds.ErrDeleteTriggerAndRules},
	} {
		name, _ := json.Marshal(c.deleteAfterFire)
		t.Run("deleteAfterFire="+string(name), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := params("date", "2026-07-01T12:00:00.250Z", "trigger_payload", map[string]any{"n": 1})
				if c.deleteAfterFire != nil {
					p.Set("deleteAfterFire", c.deleteAfterFire)
				}
				now := clockAt(ts("2026-07-01T11:59:00Z"))
				r := start(t, onceProvider, p, now, &feedtest.MemoryCheckpoint{})
				if err := r.finished(t, time.Hour); err != c.want {
					t.Errorf("Run returned %v, want %v", err, c.want)
				}
				evs := r.rec.Events()
				if len(evs) != 1 || evs[0].ID() != "guest/T@2026-07-01T12:00:00.25Z" {
					t.Fatalf("events %v, want one for the date", evs)
				}
			})
		})
	}
}

func TestInterval(t *testing.T) {
	t.Run("startDate defaults to 30 s after creation", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			now := clockAt(ts("2026-01-01T10:00:00Z"))
			cfg := config(params("minutes", 5), now, &feedtest.MemoryCheckpoint{})
			if _, err := intervalProvider.Build(cfg); err != nil {
				t.Fatal(err)
			}
			if s, _, _ := cfg.Params.String("startDate"); s != "2026-01-01T10:00:30.000Z" {
				t.Fatalf("generated startDate %q, want 2026-01-01T10:00:30.000Z", s)
			}
			time.Sleep(time.Hour) // the instance first runs later: the stored startDate counts
			r := start(t, intervalProvider, cfg.Params, now, &feedtest.MemoryCheckpoint{})
			equal(t, r.slots(t, 2), []string{"2026-01-01T11:00:30Z", "2026-01-01T11:05:30Z"})
		})
	})
	t.Run("a startDate in the past anchors the intervals", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			now := clockAt(ts("2026-01-01T10:00:00Z"))
			r := start(t, intervalProvider, params("minutes", "60", "startDate", "2025-12-31T08:20:00Z"), now, &feedtest.MemoryCheckpoint{})
			equal(t, r.slots(t, 2), []string{"2026-01-01T10:20:00Z", "2026-01-01T11:20:00Z"})
		})
	})
}

// TestMissedSlots stops an instance, lets time pass, and starts it again
// from the same checkpoint: slots missed are skipped, or with fireMissed
// the latest fires once; a slot less than a minute late is not missed.
func TestMissedSlots(t *testing.T) {
	for _, c := range []struct {
		name       string
		p          feeds.Provider
		params     feeds.Params
		down       time.Duration
		fireMissed bool
		want       []string // after the first run's slots
		wantErr    error    // what a finishing Run returns
	}{
		{"cron: skipped", alarmProvider, params("cron", "*/10 * * * *"), 35 * time.Minute, false,
			[]string{"2026-01-01T00:50:00Z", "2026-01-01T01:00:00Z"}, nil},
		{"cron: fireMissed fires the latest", alarmProvider, params("cron", "*/10 * * * *"), 35 * time.Minute, true,
			[]string{"2026-01-01T00:40:00Z", "2026-01-01T00:50:00Z"}, nil},
		{"cron: a short restart fires the late slot", alarmProvider, params("cron", "*/10 * * * *"), 10*time.Minute + 30*time.Second, false,
			[]string{"2026-01-01T00:20:00Z", "2026-01-01T00:30:00Z"}, nil},
		{"interval: skipped", intervalProvider, params("minutes", 10, "startDate", "2026-01-01T00:10:00Z"), time.Hour + 2*time.Minute, false,
			[]string{"2026-01-01T01:20:00Z"}, nil},
		{"interval: fireMissed", intervalProvider, params("minutes", 10, "startDate", "2026-01-01T00:10:00Z"), time.Hour + 2*time.Minute, true,
			[]string{"2026-01-01T01:10:00Z", "2026-01-01T01:20:00Z"}, nil},
		{"once: skipped, trigger kept", onceProvider, params("date", "2026-01-01T00:30:00Z", "deleteAfterFire", true), time.Hour, false,
			nil, nil},
		{"once: fireMissed", onceProvider, params("date", "2026-01-01T00:30:00Z", "deleteAfterFire", true), time.Hour, true,
			[]string{"2026-01-01T00:30:00Z"}, feeds.ErrDeleteTrigger},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				now := clockAt(ts("2026-01-01T00:00:00Z"))
				cp := &feedtest.MemoryCheckpoint{}
				first := start(t, c.p, c.params, now, cp)
				time.Sleep(10*time.Minute + time.Second) // the cron slot 00:10 and the interval's first fire
				first.stop(t)
				time.Sleep(c.down)
				p := c.params.Clone()
				p.Set("fireMissed", c.fireMissed)
				r := start(t, c.p, p, now, cp)
				if c.p.Name == "once" {
					if err := r.finished(t, time.Hour); err != c.wantErr {
						t.Errorf("Run returned %v, want %v", err, c.wantErr)
					}
					equal(t, r.slots(t, 0), c.want)
					return
				}
				equal(t, r.slots(t, len(c.want)), c.want)
			})
		})
	}
}

// TestRestartResumes restarts an instance from its checkpoint at once and
// after a slot: no slot fires twice, none is lost.
func TestRestartResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := clockAt(ts("2026-01-01T00:00:00Z"))
		cp := &feedtest.MemoryCheckpoint{}
		p := params("cron", "*/20 * * * * *")
		var got []string
		for range 3 {
			r := start(t, alarmProvider, p, now, cp)
			got = append(got, r.slots(t, 2)...)
			r.stop(t)
			// Restart at once, and then again half-way to the next slot.
			r = start(t, alarmProvider, p, now, cp)
			time.Sleep(10 * time.Second)
			r.stop(t)
			got = append(got, r.slots(t, 0)...)
		}
		equal(t, got, []string{"2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z", "2026-01-01T00:01:00Z",
			"2026-01-01T00:01:20Z", "2026-01-01T00:01:40Z", "2026-01-01T00:02:00Z"})
	})
}

// failingCheckpoint fails its first Save after the first one (the fresh
// start), as a crash between firing and checkpointing would.
type failingCheckpoint struct {
	feedtest.MemoryCheckpoint
	saves int
}

func (c *failingCheckpoint) Save(ctx context.Context, b []byte) error {
	c.saves++
	if c.saves == 2 {
		return errors.New("NATS is away")
	}
	return c.MemoryCheckpoint.Save(ctx, b)
}

// TestRefireSameID: a slot fired but not checkpointed fires again on
// restart with the same id, which JetStream's dedup window drops.
func TestRefireSameID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := clockAt(ts("2026-01-01T00:00:00Z"))
		cp := &failingCheckpoint{}
		r := start(t, alarmProvider, params("cron", "* * * * *"), now, cp)
		if err := r.finished(t, time.Hour); err == nil || !strings.Contains(err.Error(), "NATS is away") {
			t.Fatalf("Run returned %v, want the checkpoint error", err)
		}
		time.Sleep(time.Second) // the manager's backoff
		r2 := start(t, alarmProvider, params("cron", "* * * * *"), now, cp)
		a, b := r.rec.WaitFor(t, 1, time.Hour)[0], r2.rec.WaitFor(t, 1, time.Hour)[0]
		if a.ID() != b.ID() || a.ID() != "guest/T@2026-01-01T00:01:00Z" {
			t.Errorf("refired slot has id %s, first fire %s", b.ID(), a.ID())
		}
	})
}

func TestEvent(t *testing.T) {
	for _, c := range []struct {
		name    string
		payload any // nil: absent
		want    string
	}{
		{"absent", nil, `{}`},
		{"object", map[string]any{"a": 1, "b": []int{2}}, `{"a":1,"b":[2]}`},
		{"string", "hello", `{"payload":"hello"}`},
		{"string holding JSON", `{"a":1}`, `{"payload":"{\"a\":1}"}`},
		{"number", 42, `{"payload":42}`},
		{"empty string", "", `{}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := params("minutes", 1, "startDate", "2026-01-01T00:00:05Z")
				if c.payload != nil {
					p.Set("trigger_payload", c.payload)
				}
				r := start(t, intervalProvider, p, clockAt(ts("2026-01-01T00:00:00Z")), &feedtest.MemoryCheckpoint{})
				e := r.rec.WaitFor(t, 1, time.Hour)[0]
				if string(e.Data()) != c.want {
					t.Errorf("data %s, want %s", e.Data(), c.want)
				}
				if e.ID() != "guest/T@2026-01-01T00:00:05Z" || e.Source() != "/whisk.system/alarms/interval" ||
					e.Type() != "dev.gust.alarms.interval" || e.DataContentType() != event.ApplicationJSON ||
					!e.Time().Equal(ts("2026-01-01T00:00:05Z")) {
					t.Errorf("event %s", e)
				}
			})
		})
	}
}

// TestBadParams: each invalid parameter is a *feeds.ParamError naming it,
// from New, or from Validate for dates that passed.
func TestBadParams(t *testing.T) {
	now := func() time.Time { return ts("2026-06-01T00:00:00Z") }
	for _, c := range []struct {
		name   string
		p      feeds.Provider
		params feeds.Params
		want   string
	}{
		{"cron missing", alarmProvider, params(), "cron"},
		{"cron of 4 fields", alarmProvider, params("cron", "* * * *"), "cron"},
		{"cron of 7 fields", alarmProvider, params("cron", "0 0 0 1 1 * 2027"), "cron"},
		{"cron out of range", alarmProvider, params("cron", "61 * * * *"), "cron"},
		{"cron garbage", alarmProvider, params("cron", "every day"), "cron"},
		{"cron never matches", alarmProvider, params("cron", "0 0 30 2 *"), "cron"},
		{"cron not a string", alarmProvider, params("cron", 5), "cron"},
		{"unknown time zone", alarmProvider, params("cron", "* * * * *", "timezone", "Mars/Olympus_Mons"), "timezone"},
		{"Local time zone", alarmProvider, params("cron", "* * * * *", "timezone", "Local"), "timezone"},
		{"stopDate before startDate", alarmProvider, params("cron", "* * * * *", "startDate", "2026-07-02T00:00:00Z", "stopDate", "2026-07-01T00:00:00Z"), "stopDate"},
		{"stopDate at startDate", intervalProvider, params("minutes", 1, "startDate", "2026-07-02T00:00:00Z", "stopDate", "2026-07-02T00:00:00Z"), "stopDate"},
		{"stopDate before the default start", intervalProvider, params("minutes", 1, "stopDate", "2026-06-01T00:00:10Z"), "stopDate"},
		{"startDate not a date", alarmProvider, params("cron", "* * * * *", "startDate", "tomorrow"), "startDate"},
		{"strict not a bool", alarmProvider, params("cron", "* * * * *", "strict", "very"), "strict"},
		{"fireMissed not a bool", alarmProvider, params("cron", "* * * * *", "fireMissed", "yes"), "fireMissed"},
		{"maxTriggers", alarmProvider, params("cron", "* * * * *", "maxTriggers", 10), "maxTriggers"},
		{"date missing", onceProvider, params(), "date"},
		{"date not a date", onceProvider, params("date", "soon"), "date"},
		{"deleteAfterFire unknown", onceProvider, params("date", "2026-07-01T00:00:00Z", "deleteAfterFire", "maybe"), "deleteAfterFire"},
		{"minutes missing", intervalProvider, params(), "minutes"},
		{"minutes 0", intervalProvider, params("minutes", 0), "minutes"},
		{"minutes negative", intervalProvider, params("minutes", -5), "minutes"},
		{"minutes fractional", intervalProvider, params("minutes", 1.5), "minutes"},
		{"minutes not a number", intervalProvider, params("minutes", "five"), "minutes"},
		{"date in the past (Validate)", onceProvider, params("date", "2026-05-31T23:59:59Z"), "date"},
		{"date now (Validate)", onceProvider, params("date", "2026-06-01T00:00:00Z"), "date"},
		{"stopDate in the past (Validate)", alarmProvider, params("cron", "* * * * *", "stopDate", "2026-05-01T00:00:00Z"), "stopDate"},
		{"interval stopDate in the past (Validate)", intervalProvider, params("minutes", 1, "startDate", "2026-01-01T00:00:00Z", "stopDate", "2026-05-01T00:00:00Z"), "stopDate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := c.p.Build(config(c.params, now, &feedtest.MemoryCheckpoint{}))
			if err == nil {
				err = f.(interface{ Validate() error }).Validate()
			}
			var pe *feeds.ParamError
			if !errors.As(err, &pe) || pe.Name != c.want {
				t.Fatalf("got %v, want a *feeds.ParamError naming %q", err, c.want)
			}
			t.Log(err)
		})
	}
}

// TestValidParams: what OpenWhisk clients send is accepted, and passes
// Validate.
func TestValidParams(t *testing.T) {
	now := func() time.Time { return ts("2026-06-01T00:00:00Z") }
	for _, c := range []struct {
		name   string
		p      feeds.Provider
		params feeds.Params
	}{
		{"strict as a string", alarmProvider, params("cron", "* * * * *", "strict", "true")},
		{"maxTriggers -1", alarmProvider, params("cron", "* * * * *", "maxTriggers", -1)},
		{"dates as milliseconds", alarmProvider, params("cron", "* * * * *", "startDate", ts("2026-07-01T00:00:00Z").UnixMilli(), "stopDate", ts("2026-08-01T00:00:00Z").UnixMilli())},
		{"cron with L, W and #", alarmProvider, params("cron", "0 0 L * *")},
		{"weekdays in a zone", alarmProvider, params("cron", "0 9 * * MON-FRI", "timezone", "Asia/Kolkata")},
		{"deleteAfterFire RULES", onceProvider, params("date", "2026-07-01T00:00:00Z", "deleteAfterFire", "RULES")},
		{"minutes as a string", intervalProvider, params("minutes", "15")},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := c.p.Build(config(c.params, now, &feedtest.MemoryCheckpoint{}))
			if err == nil {
				err = f.(interface{ Validate() error }).Validate()
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
