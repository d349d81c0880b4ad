package gustcmd

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/hub/throttle"
	"github.com/gusthub/gust/rules"
)

func TestCLIPackageTriggerRule(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	guest := func(name string) actions.Name { return actions.Name{Namespace: "guest", Name: name} }
	runSteps(t, ts.env(), []step{
		{name: "package create", args: []string{"package", "create", "mypkg", "-p", "color", "red"}, stdout: "ok: created package mypkg\n"},
		{name: "action in package", args: []string{"action", "create", "mypkg/inpkg", "testdata/cli/hello.js"}, stdout: "ok: created action mypkg/inpkg\n"},
		{name: "package update", args: []string{"package", "update", "mypkg", "-p", "color", "red", "--shared", "yes"}, stdout: "ok: updated package mypkg\n",
			after: func(t *testing.T) {
				p, _, err := ts.actions.GetPackage(ctx, guest("mypkg"))
				if err != nil || !p.Publish || string(p.Parameters.Get("color")) != `"red"` {
					t.Errorf("package = %+v, %v", p, err)
				}
			}},
		{name: "package bind", args: []string{"package", "bind", "mypkg", "mybinding", "-p", "color", "blue"}, stdout: "ok: created binding mybinding\n",
			after: func(t *testing.T) {
				p, _, err := ts.actions.GetPackage(ctx, guest("mybinding"))
				if err != nil || p.Binding == nil || p.Binding.Name != "mypkg" {
					t.Errorf("binding = %+v, %v", p, err)
				}
			}},
		{name: "package bind of a missing package", args: []string{"package", "bind", "nopkg", "b2"},
			errMsg: "Binding creation failed: ", code: 400 & 0xff},
		{name: "package get", args: []string{"package", "get", "mybinding"}, prefix: true,
			stdout: "ok: got package mybinding\n{\n    \"actions\": [\n        {\n            \"name\": \"inpkg\",\n"},
		{name: "package list", args: []string{"package", "list"},
			stdout: "packages\n" + pad("/guest/mybinding") + " private\n" + pad("/guest/mypkg") + " shared\n"},
		{name: "package delete, not empty", args: []string{"package", "delete", "mypkg"},
			errMsg: "Unable to delete package 'mypkg': ", code: 409 & 0xff},
		{name: "package delete --force", args: []string{"package", "delete", "mybinding"}, stdout: "ok: deleted package mybinding\n"},
		{name: "package delete --force", args: []string{"package", "delete", "mypkg", "--force"}, stdout: "ok: deleted package mypkg\n",
			after: func(t *testing.T) {
				if _, _, err := ts.actions.GetPackage(ctx, guest("mypkg")); err == nil {
					t.Error("package still exists")
				}
			}},
		{name: "trigger create", args: []string{"trigger", "create", "mytrigger", "-p", "source", "demo"}, stdout: "ok: created trigger mytrigger\n",
			after: func(t *testing.T) {
				tr, _, err := ts.rules.GetTrigger(ctx, guest("mytrigger"))
				if err != nil || string(tr.Parameters.Get("source")) != `"demo"` {
					t.Errorf("trigger = %+v, %v", tr, err)
				}
			}},
		{name: "trigger create with a missing feed", args: []string{"trigger", "create", "tbad", "--feed", "nosuch/feed"},
			errMsg: "Unable to create trigger 'tbad': the feed action '/whisk.system/nosuch/feed' does not exist ('gust feed list' lists the feeds): " +
				"The requested resource does not exist. (code ", code: 148,
			after: func(t *testing.T) {
				if _, _, err := ts.rules.GetTrigger(ctx, guest("tbad")); err == nil {
					t.Error("the trigger of a missing feed was kept")
				}
			}},
		{name: "trigger update", args: []string{"trigger", "update", "mytrigger", "-a", "description", "d"}, stdout: "ok: updated trigger mytrigger\n"},
		{name: "trigger get", args: []string{"trigger", "get", "mytrigger"}, prefix: true,
			stdout: "ok: got trigger mytrigger\n{\n    \"namespace\": \"guest\",\n    \"name\": \"mytrigger\",\n    \"version\": \"0.0.2\",\n"},
		{name: "trigger list", args: []string{"trigger", "list"}, stdout: "triggers\n" + pad("/guest/mytrigger") + " private\n"},
		{name: "action for the rule", args: []string{"action", "create", "hello", "testdata/cli/hello.js"}, stdout: "ok: created action hello\n"},
		{name: "rule create", args: []string{"rule", "create", "myrule", "mytrigger", "hello"}, stdout: "ok: created rule myrule\n"},
		{name: "rule create, missing trigger", args: []string{"rule", "create", "r2", "nosuch", "hello"},
			errMsg: "Unable to create rule 'r2': trigger /guest/nosuch does not exist (code ", code: 400 & 0xff},
		{name: "rule get", args: []string{"rule", "get", "myrule"}, prefix: true,
			stdout: "ok: got rule myrule\n{\n    \"namespace\": \"guest\",\n    \"name\": \"myrule\",\n    \"version\": \"0.0.1\",\n    \"status\": \"active\",\n"},
		{name: "rule list", args: []string{"rule", "list"}, stdout: "rules\n" + pad("/guest/myrule") + " private              active\n"},
		{name: "rule disable", args: []string{"rule", "disable", "myrule"}, stdout: "ok: disabled rule myrule\n",
			after: func(t *testing.T) {
				r, _, err := ts.rules.GetRule(ctx, guest("myrule"))
				if err != nil || r.Status != rules.StatusInactive {
					t.Errorf("rule = %+v, %v", r, err)
				}
			}},
		{name: "rule status", args: []string{"rule", "status", "myrule"}, stdout: "ok: rule myrule is inactive\n"},
		{name: "rule enable", args: []string{"rule", "enable", "myrule"}, stdout: "ok: enabled rule myrule\n"},
		{name: "rule status active", args: []string{"rule", "status", "myrule"}, stdout: "ok: rule myrule is active\n"},
		{name: "rule update", args: []string{"rule", "update", "myrule", "mytrigger", "hello"}, stdout: "ok: updated rule myrule\n"},
		{name: "list", args: []string{"list"}, stdout: "Entities in namespace: default\npackages\nactions\n" +
			pad("/guest/hello") + " private nodejs:20\ntriggers\n" + pad("/guest/mytrigger") + " private\nrules\n" +
			pad("/guest/myrule") + " private              active\n"},
		{name: "namespace get", args: []string{"namespace", "get"}, prefix: true, stdout: "Entities in namespace: default\npackages\nactions\n"},
		{name: "rule delete --disable", args: []string{"rule", "delete", "myrule", "--disable"}, stdout: "ok: deleted rule myrule\n",
			after: func(t *testing.T) {
				if _, _, err := ts.rules.GetRule(ctx, guest("myrule")); err == nil {
					t.Error("rule still exists")
				}
			}},
		{name: "rule enable missing", args: []string{"rule", "enable", "myrule"},
			errMsg: "Unable to enable rule 'myrule': The requested resource does not exist.", code: 148},
		{name: "trigger delete", args: []string{"trigger", "delete", "mytrigger"}, stdout: "ok: deleted trigger mytrigger\n"},
		{name: "trigger delete missing", args: []string{"trigger", "delete", "mytrigger"},
			errMsg: "Unable to delete trigger 'mytrigger': The requested resource does not exist.", code: 148},
	})
}

func TestCLIActivation(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	start := time.Date(2026, 11, 24, 14, 32, 37, 0, time.Local).UnixMilli()
	limits := actions.KeyValues{}.Set("path", "guest/hello").Set("kind", "nodejs:20")
	cold := limits.Set("waitTime", 3).Set("initTime", 2)
	records := []actions.Activation{
		{Namespace: "guest", Name: "hello", Version: "0.0.1", Subject: "guest", ActivationID: "5a1b2c3d4e5f40718293a4b5c6d7e8f9",
			Start: start, End: start + 5, Duration: 5, Annotations: cold, Logs: []string{"2024-01-01T00:00:00.000000000Z stdout: hello from action"},
			Response: actions.Response{Result: []byte(`{"payload":"Hello, World!"}`)}},
		{Namespace: "guest", Name: "hello", Version: "0.0.1", Subject: "guest", ActivationID: "6a1b2c3d4e5f40718293a4b5c6d7e8f9",
			Start: start + 1000, End: start + 1012, Duration: 12, Annotations: limits,
			Response: actions.Response{StatusCode: actions.StatusApplicationError, Result: []byte(`{"error":"boom"}`)}},
	}
	for i := range records {
		if err := ts.activations.Put(ctx, &records[i]); err != nil {
			t.Fatal(err)
		}
	}
	row1 := "2026-11-24 14:32:37 5a1b2c3d4e5f40718293a4b5c6d7e8f9 nodejs:20    cold  5ms        success           guest/hello:0.0.1\n"
	row2 := "2026-11-24 14:32:38 6a1b2c3d4e5f40718293a4b5c6d7e8f9 nodejs:20    warm  12ms       application error guest/hello:0.0.1\n"
	// The columns line up under the header, with the longest words too.
	feed := activationRow(actions.Activation{Namespace: "guest", Name: "t", Version: "0.0.1", ActivationID: "7a1b2c3d4e5f40718293a4b5c6d7e8f9",
		Start: start, Annotations: actions.KeyValues{}.Set("kind", "builtin:feed"), StatusCode: actions.StatusDeveloperError}, painter{})
	// A trigger activation ran nothing: kind trigger, no cold or warm, no
	// duration, in color too.
	trigger := actions.Activation{Namespace: "guest", Name: "t", Version: "0.0.1", ActivationID: "8a1b2c3d4e5f40718293a4b5c6d7e8f9",
		Start: start, Annotations: actions.KeyValues{}.Set("path", "guest/t")}
	triggerRow := "2026-11-24 14:32:37 8a1b2c3d4e5f40718293a4b5c6d7e8f9 trigger      -     -          success           guest/t:0.0.1"
	if got := activationRow(trigger, painter{}); got != triggerRow {
		t.Errorf("trigger row\n%q, want\n%q", got, triggerRow)
	}
	if got := ansi.ReplaceAllString(activationRow(trigger, painter{on: true}), ""); got != triggerRow {
		t.Errorf("colored trigger row without its colors\n%q, want\n%q", got, triggerRow)
	}
	for _, row := range []string{row1, row2, feed, triggerRow} {
		for _, col := range []string{"Kind", "Start", "Duration", "Status", "Entity"} {
			at := strings.Index(activationHeader, col)
			if at >= len(row) || row[at-1] != ' ' || row[at] == ' ' {
				t.Errorf("column %s does not start at %d in %q", col, at, row)
			}
		}
	}
	runSteps(t, ts.env(), []step{
		{name: "list", args: []string{"activation", "list"}, stdout: activationHeader + "\n" + row2 + row1},
		{name: "list NAME --limit", args: []string{"activation", "list", "hello", "--limit", "1"}, stdout: activationHeader + "\n" + row2},
		{name: "list --skip", args: []string{"activation", "list", "--skip", "1"}, stdout: activationHeader + "\n" + row1},
		{name: "list --upto", args: []string{"activation", "list", "--upto", strconv.FormatInt(start+10, 10)}, stdout: activationHeader + "\n" + row1},
		{name: "get", args: []string{"activation", "get", "5a1b2c3d4e5f40718293a4b5c6d7e8f9"}, prefix: true,
			stdout: "ok: got activation 5a1b2c3d4e5f40718293a4b5c6d7e8f9\n{\n    \"namespace\": \"guest\",\n    \"name\": \"hello\",\n"},
		{name: "get --last", args: []string{"activation", "get", "--last"}, prefix: true,
			stdout: "ok: got activation 6a1b2c3d4e5f40718293a4b5c6d7e8f9\n{\n"},
		{name: "get without an id", args: []string{"activation", "get"}, errMsg: "an activation ID is required (or --last)", code: exitUsage},
		{name: "get missing", args: []string{"activation", "get", "7a1b2c3d4e5f40718293a4b5c6d7e8f9"},
			errMsg: "Unable to get activation '7a1b2c3d4e5f40718293a4b5c6d7e8f9': The requested resource does not exist. (code ", code: 148},
		{name: "logs", args: []string{"activation", "logs", "5a1b2c3d4e5f40718293a4b5c6d7e8f9"},
			stdout: "2024-01-01T00:00:00.000000000Z stdout: hello from action\n"},
		{name: "result", args: []string{"activation", "result", "5a1b2c3d4e5f40718293a4b5c6d7e8f9"},
			stdout: "{\n    \"payload\": \"Hello, World!\"\n}\n"},
		{name: "result --last", args: []string{"activation", "result", "--last"}, stdout: "{\n    \"error\": \"boom\"\n}\n"},
		{name: "result --json", args: []string{"activation", "result", "--last", "--json"},
			stdout: `{"result":{"error":"boom"},"size":16,"status":"application error","success":false}` + "\n"},
	})
	t.Run("poll", func(t *testing.T) {
		done := make(chan cliResult)
		go func() {
			done <- gust(t, ts.env(), "activation", "poll", "--exit", "1", "--interval", "50ms")
		}()
		time.Sleep(200 * time.Millisecond)
		rec := records[0]
		rec.ActivationID, rec.Start = "8a1b2c3d4e5f40718293a4b5c6d7e8f9", time.Now().UnixMilli()+10
		if err := ts.activations.Put(ctx, &rec); err != nil {
			t.Fatal(err)
		}
		r := <-done
		r.check(t, "Enter Ctrl-c to exit.\nPolling for activation logs\n\nActivation: 'hello' (8a1b2c3d4e5f40718293a4b5c6d7e8f9)\n[\n    \"2024-01-01T00:00:00.000000000Z stdout: hello from action\"\n]\n", "", 0)
	})
}

func TestCLINamespaceAndProperty(t *testing.T) {
	ts := newTestServer(t)
	getenv := ts.env("GUST_ADMIN_AUTH", ts.adminAuth)
	runSteps(t, getenv, []step{
		{name: "namespace list", args: []string{"namespace", "list"}, stdout: "namespaces\nguest\n"},
		{name: "namespace list --json", args: []string{"namespace", "list", "--json"}, stdout: "[\"guest\"]\n"},
		{name: "namespace create", args: []string{"namespace", "create", "team1"}, prefix: true, stdout: "ok: created namespace team1\nkey: ",
			after: func(t *testing.T) {
				all, err := ts.ids.Namespaces(context.Background())
				if err != nil || !strings.Contains(strings.Join(all, ","), "team1") {
					t.Errorf("namespaces = %v, %v", all, err)
				}
			}},
		{name: "namespace create again", args: []string{"namespace", "create", "team1"},
			errMsg: "Unable to create namespace 'team1': resource already exists (code ", code: 409 & 0xff},
		{name: "namespace create, not admin", args: []string{"namespace", "create", "team2", "--admin-auth", ts.auth},
			errMsg: "Unable to create namespace 'team2': The supplied authentication is not authorized to access this resource.", code: 403 & 0xff},
		{name: "property get", args: []string{"property", "get"},
			stdout: "whisk API host\t\t" + ts.apiHost + "\nwhisk auth\t\t" + ts.auth + "\nwhisk namespace\t\tguest\n" +
				"whisk API version\tv1\nwhisk CLI version\t" + version + "\nwhisk API build\t\ttest\nwhisk API build number\ttest\n"},
		{name: "property get --apihost", args: []string{"property", "get", "--apihost"}, stdout: "whisk API host\t\t" + ts.apiHost + "\n"},
		{name: "property get --namespace --json", args: []string{"property", "get", "--namespace", "--json"}, stdout: `{"namespace":"guest"}` + "\n"},
		{name: "property set", args: []string{"property", "set", "--apihost", "http://127.0.0.1:1", "--auth", "a:b"},
			stdout: "ok: whisk API host set to http://127.0.0.1:1\nok: whisk auth set. Run 'gust property get --auth' to see the new value.\n",
			after: func(t *testing.T) {
				b, err := os.ReadFile(ts.configPath)
				if err != nil || !strings.Contains(string(b), "APIHOST=http://127.0.0.1:1\n") || !strings.Contains(string(b), "AUTH=a:b\n") {
					t.Errorf("config file:\n%s (%v)", b, err)
				}
			}},
		{name: "property set nothing", args: []string{"property", "set"}, errMsg: "property set needs --apihost, --auth or --admin-auth", code: exitUsage},
	})
}

// TestCLINamespaceLimits: gust namespace limits shows, sets and removes a
// namespace's throttles, says what it changed and shows the limits in
// force, each changed one with what it was; a removed limit gives the
// deployment's default back. 0 and negative limits are refused with how to
// remove one.
func TestCLINamespaceLimits(t *testing.T) {
	ts := newThrottledTestServer(t, throttle.Limits{FiresPerMinute: 60})
	getenv := ts.env("GUST_ADMIN_AUTH", ts.adminAuth)
	table := func(invocations, concurrent, fires string) string {
		return "invocationsPerMinute   " + invocations + "\nconcurrentInvocations  " + concurrent + "\nfiresPerMinute         " + fires + "\n"
	}
	const updated = "ok: updated the limits of namespace guest: "
	runSteps(t, getenv, []step{
		{name: "show", args: []string{"namespace", "limits", "guest"}, stdout: table("no limit", "no limit", "60")},
		{name: "set", args: []string{"namespace", "limits", "guest", "--invocations-per-minute", "2", "--fires-per-minute", "5"},
			stdout: updated + "invocationsPerMinute set to 2, firesPerMinute set to 5\n" + table("2 (was no limit)", "no limit", "5 (was 60)")},
		{name: "set again", args: []string{"namespace", "limits", "guest", "--invocations-per-minute", "2"},
			stdout: updated + "invocationsPerMinute set to 2\n" + table("2", "no limit", "5")},
		{name: "0", args: []string{"namespace", "limits", "guest", "--invocations-per-minute", "0"}, code: exitUsage,
			errMsg: "--invocations-per-minute 0: a limit is a positive integer; to remove the namespace's own, so that the deployment's default holds again, use --clear invocations-per-minute"},
		{name: "negative", args: []string{"namespace", "limits", "guest", "--concurrent", "-1"}, code: exitUsage,
			errMsg: "--concurrent -1: a limit is a positive integer; to remove the namespace's own, so that the deployment's default holds again, use --clear concurrent"},
		{name: "clear one", args: []string{"namespace", "limits", "guest", "--clear", "invocations-per-minute"},
			stdout: updated + "invocationsPerMinute back to the deployment's default\n" + table("no limit (was 2)", "no limit", "5")},
		{name: "set one, clear another by its API name", args: []string{"namespace", "limits", "guest", "--concurrent", "3", "--clear", "firesPerMinute"},
			stdout: updated + "concurrentInvocations set to 3, firesPerMinute back to the deployment's default\n" + table("no limit", "3 (was no limit)", "60 (was 5)")},
		{name: "clear all", args: []string{"namespace", "limits", "guest", "--clear", "all"},
			stdout: updated + "invocationsPerMinute back to the deployment's default, concurrentInvocations back to the deployment's default, " +
				"firesPerMinute back to the deployment's default\n" + table("no limit", "no limit (was 3)", "60")},
		{name: "clear an unknown limit", args: []string{"namespace", "limits", "guest", "--clear", "memory"}, code: exitUsage,
			errMsg: "--clear memory: no such limit; name invocations-per-minute, concurrent, fires-per-minute or all"},
		{name: "set and clear one limit", args: []string{"namespace", "limits", "guest", "--fires-per-minute", "4", "--clear", "all"}, code: exitUsage,
			errMsg: "--fires-per-minute and --clear all: a limit is either set or removed"},
		{name: "clear, not admin", args: []string{"namespace", "limits", "guest", "--clear", "all", "--admin-auth", ts.auth}, code: 403 & 0xff,
			errMsg: "Unable to update the limits of namespace 'guest': The supplied authentication is not authorized to access this resource."},
		{name: "set --json", args: []string{"namespace", "limits", "guest", "--fires-per-minute", "9", "--json"}, prefix: true,
			stdout: `{"firesPerMinute":9,"max`},
		{name: "clear --json", args: []string{"namespace", "limits", "guest", "--clear", "fires-per-minute", "--json"}, prefix: true,
			stdout: `{"firesPerMinute":60,"max`},
	})
}
