package rules_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/rules"
)

func TestNameOrRef(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    actions.Name
		given   bool
		wantErr bool
	}{
		{in: `"/_/t"`, want: actions.Name{Namespace: "guest", Name: "t"}, given: true},
		{in: `"/ns/pkg/a"`, want: actions.Name{Namespace: "ns", Package: "pkg", Name: "a"}, given: true},
		{in: `"a"`, want: actions.Name{Namespace: "guest", Name: "a"}, given: true},
		{in: `{"path":"guest","name":"t"}`, want: actions.Name{Namespace: "guest", Name: "t"}, given: true},
		{in: `{"path":"ns/pkg","name":"a"}`, want: actions.Name{Namespace: "ns", Package: "pkg", Name: "a"}, given: true},
		{in: `{"path":"_","name":"a"}`, want: actions.Name{Namespace: "guest", Name: "a"}, given: true},
		{in: `null`},
		{in: `""`},
		{in: `"/t"`, given: true, wantErr: true},
		{in: `{"path":"","name":"a"}`, given: true, wantErr: true},
		{in: `{"path":"guest","name":"a$"}`, given: true, wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var n rules.NameOrRef
			if err := json.Unmarshal([]byte(tc.in), &n); err != nil {
				t.Fatal(err)
			}
			got, given, err := n.Resolve("guest")
			if given != tc.given || (err != nil) != tc.wantErr {
				t.Fatalf("Resolve = %+v, %v, %v", got, given, err)
			}
			if err == nil && got != tc.want {
				t.Errorf("Resolve = %+v, want %+v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{`1`, `[]`, `true`, `{"path":1}`} {
		var n rules.NameOrRef
		if err := json.Unmarshal([]byte(bad), &n); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
	var nilRef *rules.NameOrRef
	if _, given, err := nilRef.Resolve("guest"); given || err != nil {
		t.Error("nil NameOrRef is given")
	}
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRulePutApply(t *testing.T) {
	n := actions.Name{Namespace: "guest", Name: "r"}
	now := time.UnixMilli(5)
	put := decode[rules.RulePut](t, `{"name":"myrule","status":"","trigger":"/_/mytrigger","action":"/_/hello"}`)
	r, err := put.Apply(nil, n, now)
	if err != nil {
		t.Fatal(err)
	}
	want := rules.Rule{Namespace: "guest", Name: "r", Version: "0.0.1",
		Trigger: rules.Ref{Path: "guest", Name: "mytrigger"}, Action: rules.Ref{Path: "guest", Name: "hello"}, Updated: 5}
	if mustJSON(r) != mustJSON(want) {
		t.Errorf("created %s, want %s", mustJSON(r), mustJSON(want))
	}
	t.Run("update keeps what is absent", func(t *testing.T) {
		upd := decode[rules.RulePut](t, `{"action":{"path":"guest/pkg","name":"b"}}`)
		r2, err := upd.Apply(&r, n, time.UnixMilli(6))
		if err != nil {
			t.Fatal(err)
		}
		if r2.Version != "0.0.2" || r2.Trigger != r.Trigger || r2.Action != (rules.Ref{Path: "guest/pkg", Name: "b"}) {
			t.Errorf("updated %s", mustJSON(r2))
		}
		if r2.Action.String() != "/guest/pkg/b" {
			t.Errorf("String %q", r2.Action.String())
		}
	})
	for _, bad := range []string{
		`{}`,
		`{"trigger":"/_/t"}`,
		`{"action":"/_/a"}`,
		`{"trigger":"/_/pkg/t","action":"/_/a"}`,
		`{"trigger":"/_/t","action":"/_/a$"}`,
		`{"trigger":"/_/t","action":"/_/a","annotations":[{"key":"","value":1}]}`,
	} {
		t.Run(bad, func(t *testing.T) {
			p := decode[rules.RulePut](t, bad)
			if _, err := p.Apply(nil, n, now); err == nil {
				t.Errorf("Apply(%s) succeeded", bad)
			}
		})
	}
}

func TestTriggerPutApply(t *testing.T) {
	n := actions.Name{Namespace: "guest", Name: "t"}
	put := decode[rules.TriggerPut](t, `{"name":"feedtrig","annotations":[{"key":"feed","value":"/whisk.system/alarms/alarm"}],"parameters":[{"key":"a","value":1}]}`)
	tr, err := put.Apply(nil, n, time.UnixMilli(1))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Version != "0.0.1" || tr.Namespace != "guest" || len(tr.Parameters) != 1 {
		t.Errorf("created %s", mustJSON(tr))
	}
	tr.Rules = map[string]rules.Link{"guest/r": {Action: rules.Ref{Path: "guest", Name: "a"}, Status: rules.StatusActive}}
	upd := decode[rules.TriggerPut](t, `{"publish":true}`)
	tr2, err := upd.Apply(&tr, n, time.UnixMilli(2))
	if err != nil {
		t.Fatal(err)
	}
	if tr2.Version != "0.0.2" || !tr2.Publish || len(tr2.Parameters) != 1 || tr2.Rules["guest/r"].Status != rules.StatusActive {
		t.Errorf("updated %s", mustJSON(tr2))
	}
	for _, feed := range []string{`"not//valid"`, `"/x"`, `"a$"`} {
		p := decode[rules.TriggerPut](t, `{"annotations":[{"key":"feed","value":`+feed+`}]}`)
		if _, err := p.Apply(nil, n, time.UnixMilli(1)); err == nil {
			t.Errorf("feed %s accepted", feed)
		}
	}
}

func TestStatus(t *testing.T) {
	r := &rules.Rule{Namespace: "guest", Name: "r"}
	tr := &rules.Trigger{Rules: map[string]rules.Link{"guest/r": {Status: rules.StatusActive}}}
	if got := rules.StatusOf(tr, r); got != rules.StatusActive {
		t.Errorf("StatusOf = %q", got)
	}
	if got := rules.StatusOf(nil, r); got != rules.StatusInactive {
		t.Errorf("StatusOf without trigger = %q", got)
	}
	if got := rules.StatusOf(&rules.Trigger{}, r); got != rules.StatusInactive {
		t.Errorf("StatusOf of an unlinked rule = %q", got)
	}
	for s, ok := range map[string]bool{"active": true, "inactive": true, "": false, "Active": false} {
		if err := (rules.StatusPut{Status: s}).Check(); (err == nil) != ok {
			t.Errorf("Check(%q) = %v", s, err)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestLinkNameInvertsLinkKey(t *testing.T) {
	r := rules.Rule{Namespace: "guest@example.com", Name: "on push"}
	if got := rules.LinkName(r.LinkKey()); got != r.FullName() {
		t.Errorf("LinkName(%q) = %v, want %v", r.LinkKey(), got, r.FullName())
	}
}
