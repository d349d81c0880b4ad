package actions

import (
	"encoding/json"
	"testing"
)

// marshalByReflection is how MarshalJSON wrote a record before it was
// written by hand: the reference its bytes must equal.
func marshalByReflection(a Activation) ([]byte, error) {
	type response struct {
		Status  string          `json:"status"`
		Success bool            `json:"success"`
		Result  json.RawMessage `json:"result,omitempty"`
		Size    int             `json:"size,omitempty"`
	}
	type keyValue struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
		Init  bool            `json:"init,omitempty"`
	}
	v := struct {
		activationJSON
		StatusCode *int       `json:"statusCode,omitempty"`
		End        *int64     `json:"end,omitempty"`
		Duration   *int64     `json:"duration,omitempty"`
		Response   response   `json:"response"`
		Logs       []string   `json:"logs"`
		Annots     []keyValue `json:"annotations"`
	}{activationJSON: activationJSON(a)}
	if a.End != 0 {
		v.End, v.Duration = &a.End, &a.Duration
	}
	v.Response = response{
		Status:  StatusName(a.Response.StatusCode),
		Success: a.Response.StatusCode == StatusSuccess, Result: a.Response.Result, Size: a.Response.Size,
	}
	if v.Response.Size == 0 {
		v.Response.Size = len(a.Response.Result)
	}
	v.Logs = nonNil(a.Logs)
	v.Annots = []keyValue{}
	for _, kv := range a.Annotations {
		v.Annots = append(v.Annots, keyValue(kv))
	}
	return json.Marshal(v)
}

func TestActivationJSONIsWhatReflectionWrote(t *testing.T) {
	action := Activation{
		Namespace: "guest", Name: "noop", Version: "0.0.1", Subject: "guest", ActivationID: "0123456789abcdef0123456789abcdef",
		Start: 1765129821123, End: 1765129821125, Duration: 2, StatusCode: StatusSuccess,
		Response: Response{Result: json.RawMessage(` { "a" : "<b>", "n": [1, 2] } `)},
		Logs:     []string{"2026-12-07T17:50:21.123Z stdout: héllo \"x\"\t<tag>", "\x00\xff"},
		Annotations: KeyValues{
			{Key: "path", Value: json.RawMessage(`"guest/noop"`)},
			{Key: "limits", Value: json.RawMessage(`{"timeout":60000,"memory":256}`)},
			{Key: "init", Value: json.RawMessage(`true`), Init: true},
		},
		Publish: true,
	}
	trigger := Activation{
		Namespace: "guest", Name: "t", Version: "0.0.1", Subject: "guest", ActivationID: "fedcba9876543210fedcba9876543210",
		Start: 1765129821123, Cause: "0123456789abcdef0123456789abcdef",
		Response: Response{Result: json.RawMessage(`{}`)},
		Logs:     []string{`{"statusCode":0,"success":true,"activationId":"x","rule":"guest/r","action":"guest/noop"}`},
	}
	failed := Activation{ActivationID: "x", End: 5, StatusCode: StatusDeveloperError,
		Response: Response{StatusCode: StatusDeveloperError, Result: json.RawMessage(`{"error":"x"}`), Size: 4096}}
	for name, a := range map[string]Activation{"action": action, "trigger": trigger, "failed": failed, "empty": {}, "odd status": {Response: Response{StatusCode: 9}}} {
		t.Run(name, func(t *testing.T) {
			want, err := marshalByReflection(a)
			if err != nil {
				t.Fatal(err)
			}
			got, err := a.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("MarshalJSON:\n%s\nreflection wrote:\n%s", got, want)
			}
			var back Activation
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("read back: %v", err)
			}
		})
	}
}

func TestActivationJSONRefusesInvalidValues(t *testing.T) {
	for name, a := range map[string]Activation{
		"result":     {Response: Response{Result: json.RawMessage(`{"a":`)}},
		"annotation": {Annotations: KeyValues{{Key: "k", Value: json.RawMessage(`nope`)}}},
	} {
		if b, err := a.MarshalJSON(); err == nil {
			t.Errorf("%s: wrote %s, want an error", name, b)
		}
	}
}

func TestLimitsJSONIsWhatMarshalWrites(t *testing.T) {
	for _, l := range []Limits{DefaultLimits(), {Timeout: 100, Memory: 512, Logs: 0, Concurrency: 500}, {}} {
		want, _ := json.Marshal(l)
		if got := l.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("AppendJSON = %s, Marshal wrote %s", got, want)
		}
	}
}
