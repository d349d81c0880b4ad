package feeds_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/feeds"
)

func TestParseParams(t *testing.T) {
	decl := []feeds.Param{
		{Name: "s", Type: feeds.String},
		{Name: "req", Type: feeds.String, Required: true},
		{Name: "n", Type: feeds.Int, Default: int64(-1)},
		{Name: "b", Type: feeds.Bool},
		{Name: "d", Type: feeds.Duration, Default: 5 * time.Second},
		{Name: "at", Type: feeds.Time},
		{Name: "e", Type: feeds.Enum, Enum: []string{"false", "true", "rules"}, Default: "false"},
		{Name: "j"},
	}
	raw := func(kv ...string) feeds.Params {
		p := feeds.Params{"req": json.RawMessage(`"here"`)}
		for i := 0; i < len(kv); i += 2 {
			p[kv[i]] = json.RawMessage(kv[i+1])
		}
		return p
	}
	t.Run("defaults and absent values", func(t *testing.T) {
		v, err := feeds.ParseParams(decl, raw())
		if err != nil {
			t.Fatal(err)
		}
		if v.String("req") != "here" || v.Int("n") != -1 || v.Duration("d") != 5*time.Second || v.String("e") != "false" {
			t.Errorf("req %q n %d d %v e %q", v.String("req"), v.Int("n"), v.Duration("d"), v.String("e"))
		}
		if v.Has("s") || v.String("s") != "" || v.Bool("b") || !v.Time("at").IsZero() || v.JSON("j") != nil {
			t.Error("an absent parameter without a default reads as set")
		}
	})
	t.Run("values as wsk sends them", func(t *testing.T) {
		v, err := feeds.ParseParams(decl, raw("s", `"x"`, "n", `"15"`, "b", `"true"`, "d", `"1m30s"`, "at", `1767225600000`, "e", `"RULES"`, "j", ` [1, 2] `))
		if err != nil {
			t.Fatal(err)
		}
		if v.String("s") != "x" || v.Int("n") != 15 || !v.Bool("b") || v.Duration("d") != 90*time.Second ||
			!v.Time("at").Equal(time.UnixMilli(1767225600000)) || v.String("e") != "rules" || string(v.JSON("j")) != "[1, 2]" {
			t.Errorf("parsed %+v", v)
		}
		if v, _ := feeds.ParseParams(decl, raw("d", `250`, "e", `true`)); v.Duration("d") != 250*time.Millisecond || v.String("e") != "true" {
			t.Errorf("a duration in milliseconds or an enum as a boolean: %v %q", v.Duration("d"), v.String("e"))
		}
	})
	for _, tc := range []struct {
		name, param, msg string
		params           feeds.Params
	}{
		{"required missing", "req", "parameter 'req' is required", feeds.Params{}},
		{"required blank", "req", "parameter 'req' is required", feeds.Params{"req": json.RawMessage(`"  "`)}},
		{"string a number", "s", "parameter 's' must be a string", raw("s", `5`)},
		{"int fractional", "n", "parameter 'n' must be an integer, not 1.5", raw("n", `1.5`)},
		{"bool a word", "b", "parameter 'b' must be true or false, not \"yes\"", raw("b", `"yes"`)},
		{"duration a word", "d", "parameter 'd' must be a duration such as 1m30s or a number of milliseconds, not \"soon\"", raw("d", `"soon"`)},
		{"time a word", "at", "parameter 'at' is not a date", raw("at", `"tomorrow"`)},
		{"enum unknown", "e", "parameter 'e' must be false, true or rules, not \"maybe\"", raw("e", `"maybe"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := feeds.ParseParams(decl, tc.params)
			var pe *feeds.ParamError
			if !errors.As(err, &pe) || pe.Name != tc.param || !strings.HasPrefix(err.Error(), tc.msg) {
				t.Fatalf("got %v, want a *feeds.ParamError %q", err, tc.msg)
			}
		})
	}
}

// TestValuesRefuseUndeclared: reading a parameter the provider does not
// declare, or as another type, panics, so that the declarations and what
// New reads cannot drift apart unnoticed.
func TestValuesRefuseUndeclared(t *testing.T) {
	v, err := feeds.ParseParams([]feeds.Param{{Name: "n", Type: feeds.Int}}, feeds.Params{"maxTriggers": json.RawMessage(`3`)})
	if err != nil {
		t.Fatal(err)
	}
	for name, read := range map[string]func(){
		"undeclared":  func() { v.Int("maxTriggers") },
		"wrong type":  func() { v.String("n") },
		"Has unknown": func() { v.Has("maxTriggers") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			read()
		})
	}
}

// TestBuildChecksBeforeNew: New does not run when a parameter is invalid,
// and a New that returns neither a Feed nor a Receiver is an error.
func TestBuildChecksBeforeNew(t *testing.T) {
	ran := false
	p := feeds.Provider{Package: "test", Name: "p", Params: []feeds.Param{{Name: "n", Type: feeds.Int, Required: true}},
		New: func(cfg feeds.Config) (feeds.Source, error) { ran = true; return struct{}{}, nil }}
	if _, err := p.Build(feeds.Config{}); err == nil || ran {
		t.Fatalf("Build without n: %v, New ran: %v", err, ran)
	}
	if _, err := p.Build(feeds.Config{Params: feeds.Params{"n": json.RawMessage(`1`)}}); err == nil || !ran {
		t.Fatalf("Build of a value that is no feed: %v", err)
	}
}
