package gustcmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gusthub/gust/api"
	"github.com/gusthub/gust/internal/upstreamtest"
)

// envConsoleShots names the directory the browser test writes its
// screenshots to; by default a temporary one, which the test prints.
const envConsoleShots = "GUST_CONSOLE_SCREENSHOTS"

// consoleLogCode logs markup and returns it, so that the test sees the
// console show it as text. It takes half a second, so that the console
// opens a rerun before its record is stored, as it does with any action
// slower than a round trip.
const consoleLogCode = `async function main(p) {
  console.log('hello <b id="bold">' + p.name + '</b>');
  await new Promise((r) => setTimeout(r, 500));
  return { greeting: 'hi ' + p.name };
}`

// xssName is a parameter that runs script if the console ever renders data
// as markup.
const xssName = `<img src=x onerror="window.__xss=1">`

// TestConsoleInBrowser drives the web console in headless chromium: sign in,
// fire a trigger, see the event and its activation appear live, open the
// activation's logs and its event's tree, run it again, replay the event,
// and look at the graph, the feeds and the warm pool.
// Each view's screenshot is written to $GUST_CONSOLE_SCREENSHOTS.
func TestConsoleInBrowser(t *testing.T) {
	chromium := upstreamtest.Chromium(t)
	shots := os.Getenv(envConsoleShots)
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("console screenshots in %s", shots)

	g := startGust(t, t.TempDir(), "--sandbox", "process")
	g.mustCall(t, 200, "PUT", "/namespaces/_/actions/greet?overwrite=false", nodeAction(consoleLogCode), nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/doorbell?overwrite=false", map[string]any{}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/rules/ring?overwrite=false", map[string]string{"trigger": "/_/doorbell", "action": "/_/greet"}, nil)
	g.mustCall(t, 200, "PUT", "/namespaces/_/triggers/nightly?overwrite=false",
		map[string]any{"annotations": []map[string]string{{"key": "feed", "value": "/whisk.system/alarms/alarm"}}}, nil)
	g.mustCall(t, 200, "POST", "/namespaces/whisk.system/actions/alarms/alarm?blocking=true&result=true",
		map[string]string{"lifecycleEvent": "CREATE", "triggerName": "/_/nightly", "authKey": api.DevGuestKey, "cron": "0 3 * * *"}, nil)
	origin := strings.TrimSuffix(g.base, "/api/v1")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-gpu", true),
		// Loopback only: no name resolves but the test's own address.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// waitFor waits until the JavaScript expression cond holds in the page.
	waitFor := func(what, cond string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[chromedp.Void](cond,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second))); err != nil {
			shot("failed")
			body, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s: %v\npage text:\n%s\nserver log:\n%s", what, err, body, g.logs.String())
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Sign in.
	do("open the console", chromedp.Navigate(origin+"/console"))
	waitFor("the sign-in form", `!document.getElementById('view-signin').hidden`)
	shot("signin")
	do("sign in", chromedp.SendKeys(chromedp.ID("#key"), api.DevGuestKey), chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)))
	waitFor("signed in, events live", `document.getElementById('namespace').textContent === 'guest' && document.getElementById('live').textContent === 'live'`)
	stored, err := chromedp.Run(bctx, chromedp.Evaluate[string](`sessionStorage.getItem('gust.key')`))
	if err != nil || stored != api.DevGuestKey {
		t.Errorf("sessionStorage key = %q, %v; want the key signed in with", stored, err)
	}

	// Fire; the event and its activation appear live.
	var fired struct {
		ActivationID string `json:"activationId"`
	}
	g.mustCall(t, 202, "POST", "/namespaces/_/triggers/doorbell", map[string]string{"name": xssName}, &fired)
	card := fmt.Sprintf(`.event[data-id=%q]`, fired.ActivationID)
	waitFor("the event and its activation's success", fmt.Sprintf(
		`[...document.querySelectorAll('%s .verdict.activated .status')].some(s => s.textContent.startsWith('success'))`, card))
	if got := text(card + " .trigger"); got != "guest/doorbell" {
		t.Errorf("event card trigger %q", got)
	}
	if got := text(card + " .verdict .rule"); got != "guest/ring" {
		t.Errorf("event card rule %q", got)
	}
	actID := text(card + " .verdict a.activation")
	shot("events")

	// Open its logs.
	do("open the activation", chromedp.Click(chromedp.CSS(card+" .verdict a.activation")))
	waitFor("the activation's logs", `(document.querySelector('#activation-detail pre.logs') || {}).textContent?.includes('hello <b id="bold">')`)
	if got := text("#activation-detail h3 code"); got != actID {
		t.Errorf("detail shows %q, want %s", got, actID)
	}
	if got := text("#activation-detail pre.result"); !strings.Contains(got, `"greeting": "hi <img src=x onerror=`) {
		t.Errorf("result %q does not show the name as text", got)
	}
	waitFor("the activation in the list", fmt.Sprintf(`!!document.querySelector('#activations tr[data-id=%q] .bar .run')`, actID))
	shot("activations")

	// Its event, end to end: the tree from the trigger activation down,
	// with the action marked and its logs as text.
	tree := fmt.Sprintf(`#activation-tree li.node[data-kind=trigger][data-id=%q]`, fired.ActivationID)
	action := fmt.Sprintf(`%s li.node[data-kind=rule][data-name="guest/ring"] li.node.ok.selected[data-kind=action][data-id=%q]`, tree, actID)
	waitFor("the event's tree", fmt.Sprintf(`(document.querySelector('%s > pre.node-logs') || {}).textContent?.includes('hello <b id="bold">')`, action))
	if got := text(tree + " > .line .mark"); got != "✓" {
		t.Errorf("trigger mark %q", got)
	}
	if got := text(action + " > .line .start"); got != "cold" && got != "warm" {
		t.Errorf("action start %q", got)
	}
	do("open the trigger activation from the tree", chromedp.Click(chromedp.CSS(tree+" > .line a.activation")))
	waitFor("the trigger activation's tree", fmt.Sprintf(
		`document.querySelector('#activation-detail h3 code')?.textContent === %q && !!document.querySelector('%s.selected li.node[data-kind=action][data-id=%q]')`,
		fired.ActivationID, tree, actID))
	shot("tree")

	// Run the action again: a new activation, with the same parameters,
	// whose tree starts at it.
	do("open the action again", chromedp.Navigate(origin+"/console/#activations/"+actID))
	waitFor("the action's detail", fmt.Sprintf(`document.querySelector('#activation-detail h3 code')?.textContent === %q`, actID))
	do("rerun it", chromedp.Click(chromedp.CSS(`#activation-detail button.rerun`)))
	waitFor("the rerun's tree", fmt.Sprintf(`(() => {
		const id = document.querySelector('#activation-detail h3 code')?.textContent;
		const root = document.querySelector('#activation-tree > ul > li.node.selected[data-kind=action]');
		return id && id !== %q && root && root.dataset.id === id && root.querySelector('pre.node-logs')?.textContent.includes('hello <b id="bold">');
	})()`, actID))
	if got := text("#activation-detail pre.result"); !strings.Contains(got, `"greeting": "hi <img src=x onerror=`) {
		t.Errorf("rerun result %q: want the original parameters", got)
	}
	shot("rerun")

	// Replay the event: a new trigger activation of the same event, caused
	// by the original, whose tree starts at it and runs the rule again.
	do("open the trigger activation again", chromedp.Navigate(origin+"/console/#activations/"+fired.ActivationID))
	waitFor("the trigger activation's detail", fmt.Sprintf(`document.querySelector('#activation-detail h3 code')?.textContent === %q && !!document.querySelector('#activation-detail button.replay')`, fired.ActivationID))
	do("replay it", chromedp.Click(chromedp.CSS(`#activation-detail button.replay`)))
	waitFor("the replay's tree", fmt.Sprintf(`(() => {
		const id = document.querySelector('#activation-detail h3 code')?.textContent;
		const root = document.querySelector('#activation-tree > ul > li.node.selected[data-kind=trigger]');
		return id && id !== %q && root && root.dataset.id === id && !!root.querySelector('li.node[data-kind=rule][data-name="guest/ring"]');
	})()`, fired.ActivationID))
	if got := text(`#activation-detail dl a.activation`); got != fired.ActivationID {
		t.Errorf("replay's cause %q, want the original %s", got, fired.ActivationID)
	}
	shot("replay")

	// The graph.
	do("open the graph", chromedp.Click(chromedp.CSS(`#nav a[data-view=graph]`)))
	waitFor("the graph", `['/guest/doorbell', '/guest/ring', '/guest/greet', '/guest/nightly'].every(n => document.querySelector('#graph-svg g.node[data-name="' + n + '"]'))`)
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#graph-svg path.edge.active').length`)); err != nil || n != 2 {
		t.Errorf("graph edges %d, %v; want trigger → rule → action", n, err)
	}
	shot("graph")

	// The feeds.
	do("open the feeds", chromedp.Click(chromedp.CSS(`#nav a[data-view=feeds]`)))
	waitFor("the alarm feed's status", `(document.querySelector('#feeds tr[data-trigger=nightly]') || {}).textContent?.includes('active')`)
	if got := text(`#feeds tr[data-trigger=nightly]`); !strings.Contains(got, "/whisk.system/alarms/alarm") {
		t.Errorf("feed row %q", got)
	}
	shot("feeds")

	// The warm pool.
	do("open the pool", chromedp.Click(chromedp.CSS(`#nav a[data-view=pool]`)))
	waitFor("greet's warm container", `!!document.querySelector('#pool tr[data-action="/guest/greet"]')`)
	shot("pool")

	// Nothing rendered as markup, the page's own script aside.
	xss, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.__xss === 1 || !!document.getElementById('bold') || document.querySelectorAll('img').length > 0`))
	if err != nil || xss {
		t.Errorf("data was rendered as markup (%t, %v)", xss, err)
	}

	// Sign out forgets the key.
	do("sign out", chromedp.Click(chromedp.ID(`#signout`)))
	waitFor("the sign-in form again", `!document.getElementById('view-signin').hidden && sessionStorage.getItem('gust.key') === null`)
	for _, name := range []string{"signin", "events", "activations", "tree", "rerun", "replay", "graph", "feeds", "pool"} {
		if st, err := os.Stat(filepath.Join(shots, name+".png")); err != nil || st.Size() < 1000 {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}
}
