package builtins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
	"github.com/slack-go/slack"

	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/invoker"
)

func init() {
	invoker.RegisterBuiltin(invoker.Builtin{
		Package:     "slack",
		Name:        "post",
		Description: "Posts a message to a Slack channel or thread, with a bot token or to an incoming webhook",
		Params: []invoker.BuiltinParam{
			{Name: "channel", Description: "channel id (C0123...) or name; required with a bot token"},
			{Name: "text", Description: "the message (or its fallback text when blocks are given)"},
			{Name: "blocks", Description: "Block Kit blocks, a JSON array"},
			{Name: "thread_ts", Description: "answer in this message's thread"},
			{Name: "botToken", Description: "the bot token (xoxb-...); bind it: gust package bind /whisk.system/slack myslack -p botToken xoxb-..."},
			{Name: "url", Description: "an incoming webhook URL, instead of a bot token"},
			{Name: "apiUrl", Description: "Slack's Web API URL (default " + slack.APIURL + ")"},
		},
		Run: slackPost,
	})
	invoker.RegisterBuiltin(invoker.Builtin{
		Package:     "github",
		Name:        "comment",
		Description: "Comments on a GitHub issue or pull request",
		Params: []invoker.BuiltinParam{
			{Name: "repository", Required: true, Description: "owner/repo"},
			{Name: "number", Required: true, Description: "the issue or pull request number"},
			{Name: "body", Required: true, Description: "the comment, Markdown"},
			{Name: "accessToken", Required: true, Description: "a GitHub token that may comment on the repository"},
			{Name: "baseUrl", Description: "GitHub's API URL (default https://api.github.com/; GitHub Enterprise: https://HOST/api/v3/)"},
		},
		Run: githubComment,
	})
}

// httpTimeout bounds each call to Slack or GitHub; the action's own time
// limit may end it sooner.
const httpTimeout = 30 * time.Second

func str(c *invoker.Call, name string) (string, error) {
	s, ok := c.String(name)
	if !ok {
		return "", fmt.Errorf("parameter '%s' must be a string", name)
	}
	return strings.TrimSpace(s), nil
}

// httpURL checks a URL parameter: an http(s) URL whose host the egress
// policy does not refuse outright (where it leads is checked again when
// the action connects).
func httpURL(c *invoker.Call, name, s string) (*url.URL, error) {
	u, err := c.Egress.CheckURL(s)
	if errors.Is(err, egress.ErrRefused) {
		return nil, fmt.Errorf("parameter '%s' is refused: %v", name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("parameter '%s' must be an http(s) URL, not %q", name, s)
	}
	return u, nil
}

// slackPost posts with chat.postMessage when it has a bot token, else to
// the incoming webhook url.
func slackPost(ctx context.Context, c *invoker.Call) (any, error) {
	var p struct{ channel, text, thread, token, hook, api string }
	for _, f := range []struct {
		name string
		to   *string
	}{{"channel", &p.channel}, {"text", &p.text}, {"thread_ts", &p.thread}, {"botToken", &p.token}, {"url", &p.hook}, {"apiUrl", &p.api}} {
		s, err := str(c, f.name)
		if err != nil {
			return nil, err
		}
		*f.to = s
	}
	if p.token == "" {
		if s, _ := str(c, "token"); s != "" { // OpenWhisk's slack/post name
			p.token = s
		}
	}
	var blocks slack.Blocks
	if raw, ok := c.Params["blocks"]; ok && string(raw) != "null" {
		if s, isString := c.String("blocks"); isString && s != "" {
			raw = json.RawMessage(s) // blocks given as a JSON string (-p blocks '[...]')
		}
		if err := json.Unmarshal(raw, &blocks); err != nil {
			return nil, fmt.Errorf("parameter 'blocks' must be a JSON array of Block Kit blocks: %v", err)
		}
	}
	if p.text == "" && len(blocks.BlockSet) == 0 {
		return nil, errors.New("parameter 'text' (or 'blocks') is required")
	}
	ctx, cancel := context.WithTimeout(ctx, httpTimeout)
	defer cancel()
	switch {
	case p.token != "":
		if p.channel == "" {
			return nil, errors.New("parameter 'channel' is required")
		}
		opts := []slack.Option{slack.OptionHTTPClient(c.Egress.Client(httpTimeout))}
		if p.api != "" {
			if _, err := httpURL(c, "apiUrl", p.api); err != nil {
				return nil, err
			}
			api := p.api
			if !strings.HasSuffix(api, "/") {
				api += "/"
			}
			opts = append(opts, slack.OptionAPIURL(api))
		}
		msg := []slack.MsgOption{slack.MsgOptionText(p.text, false)}
		if len(blocks.BlockSet) > 0 {
			msg = append(msg, slack.MsgOptionBlocks(blocks.BlockSet...))
		}
		if p.thread != "" {
			msg = append(msg, slack.MsgOptionTS(p.thread))
		}
		channel, ts, err := slack.New(p.token, opts...).PostMessageContext(ctx, p.channel, msg...)
		if err != nil {
			return nil, fmt.Errorf("the Slack API refused the message: %v", err)
		}
		c.Logf("posted to %s at %s", channel, ts)
		return map[string]any{"ok": true, "channel": channel, "ts": ts}, nil
	case p.hook != "":
		if _, err := httpURL(c, "url", p.hook); err != nil {
			return nil, err
		}
		hook := p.hook
		m := &slack.WebhookMessage{Text: p.text, Channel: p.channel, ThreadTimestamp: p.thread}
		if len(blocks.BlockSet) > 0 {
			m.Blocks = &blocks
		}
		if err := slack.PostWebhookCustomHTTPContext(ctx, hook, c.Egress.Client(httpTimeout), m); err != nil {
			return nil, fmt.Errorf("the incoming webhook refused the message: %v", err)
		}
		c.Logf("posted to the incoming webhook")
		return map[string]any{"ok": true}, nil
	}
	return nil, errors.New("parameter 'botToken' (bind it to a package) or 'url' (an incoming webhook) is required")
}

var repoRule = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)

// githubComment creates an issue comment through go-github.
func githubComment(ctx context.Context, c *invoker.Call) (any, error) {
	repo, err := str(c, "repository")
	if err != nil {
		return nil, err
	}
	if !repoRule.MatchString(repo) {
		return nil, fmt.Errorf("parameter 'repository' must be owner/repo, not %q", repo)
	}
	var number int
	if raw, ok := c.Params["number"]; ok {
		if json.Unmarshal(raw, &number) != nil {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				number, _ = strconv.Atoi(s)
			}
		}
	}
	if number <= 0 {
		return nil, errors.New("parameter 'number' must be an issue or pull request number")
	}
	body, ok := c.String("body")
	if !ok || strings.TrimSpace(body) == "" {
		return nil, errors.New("parameter 'body' is required")
	}
	token, err := str(c, "accessToken")
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, errors.New("parameter 'accessToken' is required")
	}
	client := gh.NewClient(c.Egress.Client(httpTimeout)).WithAuthToken(token)
	if base, err := str(c, "baseUrl"); err != nil {
		return nil, err
	} else if base != "" {
		u, err := httpURL(c, "baseUrl", base)
		if err != nil {
			return nil, err
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		client.BaseURL = u
	}
	owner, name, _ := strings.Cut(repo, "/")
	ctx, cancel := context.WithTimeout(ctx, httpTimeout)
	defer cancel()
	comment, _, err := client.Issues.CreateComment(ctx, owner, name, number, &gh.IssueComment{Body: gh.String(body)})
	if err != nil {
		var er *gh.ErrorResponse
		if errors.As(err, &er) && er.Response != nil {
			return nil, fmt.Errorf("the GitHub API refused the comment on %s#%d: %s (HTTP %d)", repo, number, er.Message, er.Response.StatusCode)
		}
		return nil, fmt.Errorf("could not comment on %s#%d: %v", repo, number, err)
	}
	c.Logf("commented on %s#%d: %s", repo, number, comment.GetHTMLURL())
	return map[string]any{"id": comment.GetID(), "html_url": comment.GetHTMLURL()}, nil
}
