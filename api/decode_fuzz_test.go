package api

import (
	"errors"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/rules"
)

// FuzzDecodeEntities feeds arbitrary bytes to the decoding and validation
// of every entity PUT body, without a server, so that it runs thousands of
// inputs a second. The property: no panic, and every rejection is an API
// error or an *actions.InvalidError (a 4xx with a message), never anything
// that would become a 500.
func FuzzDecodeEntities(f *testing.F) {
	for _, s := range []string{
		`{"namespace":"_","name":"hello","exec":{"kind":"nodejs:default","code":"function main(p){return p}"}}`,
		`{"exec":{"kind":"nodejs:20","code":"x"},"annotations":[{"key":"web-export","value":true}],"parameters":[{"key":"g","value":"Hi"}],"limits":{"timeout":5000,"memory":128}}`,
		`{"exec":{"kind":"sequence","components":["/_/a","b","p/c"]}}`,
		`{"exec":{"kind":"blackbox","image":"i:1","code":"UEsDBA=="}}`,
		`{"binding":{"namespace":"_","name":"pkg"},"parameters":[{"key":"c","value":"blue"}]}`,
		`{"name":"t","parameters":[{"key":"source","value":"demo"}],"annotations":[{"key":"feed","value":"/whisk.system/alarms/alarm"}]}`,
		`{"name":"r","status":"","trigger":"/_/t","action":{"path":"guest","name":"a"}}`,
		`{"status":"inactive","trigger":null,"action":null}`,
		``, `[]`, `{"limits":{"memory":"lots"}}`, `{"exec":{"kind":1}}`, "{\"exec\":{\"code\":\"\xff\"}}",
	} {
		f.Add([]byte(s))
	}
	m := actions.DefaultManifest()
	now := time.Unix(1795530757, 0)
	n := actions.Name{Namespace: "guest", Name: "fuzz"}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(what string, err error) {
			var apiErr *Error
			var invalid *actions.InvalidError
			switch {
			case err == nil:
			case errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500 && apiErr.Message != "":
			case errors.As(err, &invalid) && invalid.Msg != "":
			default:
				t.Fatalf("%s: %q gave %T %v, which would not be a 4xx", what, body, err, err)
			}
		}
		var ap actions.ActionPut
		if err := decodeObject(body, &ap); err == nil {
			_, err = ap.Apply(nil, n, m, now)
			check("action", err)
		} else {
			check("action decode", err)
		}
		var pp actions.PackagePut
		if err := decodeObject(body, &pp); err == nil {
			_, err = pp.Apply(nil, n, now)
			check("package", err)
		} else {
			check("package decode", err)
		}
		var tp rules.TriggerPut
		if err := decodeObject(body, &tp); err == nil {
			_, err = tp.Apply(nil, n, now)
			check("trigger", err)
		} else {
			check("trigger decode", err)
		}
		var rp rules.RulePut
		if err := decodeObject(body, &rp); err == nil {
			_, err = rp.Apply(nil, n, now)
			check("rule", err)
		} else {
			check("rule decode", err)
		}
		var sp rules.StatusPut
		if err := decodeObject(body, &sp); err == nil {
			check("status", sp.Check())
		} else {
			check("status decode", err)
		}
	})
}
