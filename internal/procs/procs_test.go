package procs

import (
	"runtime"
	"strconv"
	"testing"
)

func TestForServeLeavesHalfTheCPUs(t *testing.T) {
	for available, want := range map[int]int{1: 1, 2: 1, 3: 1, 4: 2, 8: 4, 64: 32} {
		if got := ForServe(available); got != want {
			t.Errorf("ForServe(%d) = %d, want %d", available, got, want)
		}
	}
}

func TestChoose(t *testing.T) {
	current := runtime.GOMAXPROCS(0)
	none := func(string) string { return "" }
	set := func(k string) string {
		if k == "GOMAXPROCS" {
			return "3"
		}
		return ""
	}
	cases := []struct {
		name   string
		flag   int
		getenv func(string) string
		want   Choice
	}{
		{"flag wins", 5, set, Choice{N: 5, Source: "--procs"}},
		{"variable kept", 0, set, Choice{N: current, Source: "GOMAXPROCS"}},
		{"half", 0, none, Choice{N: ForServe(current), Source: "half of " + strconv.Itoa(current) + " CPUs"}},
	}
	for _, c := range cases {
		if got := Choose(c.flag, c.getenv); got != c.want {
			t.Errorf("%s: Choose = %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestApplyRestores(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	restore := Apply(Choice{N: before + 1})
	if got := runtime.GOMAXPROCS(0); got != before+1 {
		t.Fatalf("GOMAXPROCS after Apply = %d, want %d", got, before+1)
	}
	restore()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS after restore = %d, want %d", got, before)
	}
}
