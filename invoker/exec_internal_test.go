package invoker

import "testing"

func TestIsErrorObject(t *testing.T) {
	for in, want := range map[string]bool{
		`{}`:                       false,
		`{"ok":true}`:              false,
		`{"message":"no error"}`:   false,
		`{"error":"boom"}`:         true,
		`{"a":1, "error" : {}}`:    true,
		`{"\u0065rror":"escaped"}`: true,
		`{"e\\rror":"not it"}`:     false,
		`{"nested":{"error":"x"}}`: false,
		`not json "error"`:         false,
	} {
		if got := isErrorObject([]byte(in)); got != want {
			t.Errorf("isErrorObject(%s) = %v, want %v", in, got, want)
		}
	}
}
