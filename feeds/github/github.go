package github

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	gh "github.com/google/go-github/v60/github"

	"github.com/gusthub/gust/egress"
	"github.com/gusthub/gust/feeds"
	"github.com/gusthub/gust/feeds/webhook/ingress"
)

func init() {
	feeds.Register(feeds.Provider{
		Package:     "github",
		Name:        "webhook",
		Description: "GitHub webhook deliveries of a repository or an organization, as CloudEvents of type com.github.<event>[.<action>]",
		Params: []feeds.Param{
			{Name: RepositoryParam, Type: feeds.String, Description: "owner/repo whose events fire the trigger (or repo, with username); required unless organization is given"},
			{Name: UsernameParam, Type: feeds.String, Description: "the repository's owner, when repository is only its name (OpenWhisk's form)"},
			{Name: OrganizationParam, Type: feeds.String, Description: "an organization, for an organization-wide hook instead of a repository's"},
			{Name: EventsParam, Description: "GitHub events to fire on: a comma list or JSON array (push, pull_request, issues, ...); * for all; default push"},
			{Name: SecretParam, Type: feeds.String, Secret: true, Description: "the hook's secret: deliveries must carry X-Hub-Signature-256 made with it; generated and shown once when absent"},
			{Name: AccessTokenParam, Type: feeds.String, Secret: true, Description: "a GitHub token with admin rights on the repository: Gust then creates the hook at CREATE and removes it at DELETE"},
			{Name: BaseURLParam, Type: feeds.String, Default: DefaultBaseURL, Description: "GitHub's API URL (default " + DefaultBaseURL + "; for GitHub Enterprise, https://HOST/api/v3/)"},
			{Name: HookIDParam, Type: feeds.Int, Description: "the id of the hook Gust created on GitHub (set by CREATE with accessToken)"},
		},
		New: newWebhook,
	})
}

// Parameter names.
const (
	RepositoryParam   = "repository"
	UsernameParam     = "username"
	OrganizationParam = "organization"
	EventsParam       = "events"
	SecretParam       = "secret"
	AccessTokenParam  = "accessToken"
	BaseURLParam      = "baseUrl"
	HookIDParam       = "hookId"
)

// DefaultBaseURL is GitHub's API.
const DefaultBaseURL = "https://api.github.com/"

// MaxBody is the largest delivery GitHub sends, 25 MB; a larger body is
// answered 413.
const MaxBody = feeds.MaxReceiveBody

// minSecret is the shortest secret a user may choose.
const minSecret = 8

// apiTimeout bounds each call to GitHub's API.
const apiTimeout = 30 * time.Second

var (
	// nameRule matches GitHub's event and action names.
	nameRule  = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
	ownerRule = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	repoRule  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	idRule    = regexp.MustCompile(`^[\x21-\x7e]{1,256}$`)
)

// Webhook is one GitHub feed: the receiver of one trigger's deliveries, and
// with an access token the owner of the hook on GitHub.
type Webhook struct {
	owner, repo string // repo is empty for an organization's hook
	events      []string
	all         bool
	secret      []byte
	token       string
	baseURL     *url.URL
	hookID      int64
	url         string // where GitHub delivers
	now         func() time.Time
	egress      *egress.Policy // where baseUrl may lead
}

// newWebhook checks the feed's parameters and builds the feed; without a secret
// it generates one into cfg.Params.
func newWebhook(cfg feeds.Config) (feeds.Source, error) {
	p, v := cfg.Params, cfg.Values
	wh := &Webhook{url: cfg.URL, now: cfg.Now, egress: cfg.Egress}
	if wh.now == nil {
		wh.now = time.Now
	}
	if err := wh.target(v); err != nil {
		return nil, err
	}
	if err := wh.parseEvents(v); err != nil {
		return nil, err
	}
	secret := v.String(SecretParam)
	if !v.Has(SecretParam) {
		secret = ingress.NewToken()
		p.Set(SecretParam, secret)
	}
	if len(secret) < minSecret {
		return nil, feeds.Invalid(SecretParam, "must be at least %d characters", minSecret)
	}
	wh.secret = []byte(secret)
	wh.token = v.String(AccessTokenParam)
	base := v.String(BaseURLParam)
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := cfg.Egress.CheckURL(base)
	if errors.Is(err, egress.ErrRefused) {
		return nil, feeds.Invalid(BaseURLParam, "is refused: %v", err)
	}
	if err != nil {
		return nil, feeds.Invalid(BaseURLParam, "must be an http(s) URL such as %s, not %q", DefaultBaseURL, base)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	wh.baseURL = u
	wh.hookID = v.Int(HookIDParam)
	return wh, nil
}

// target reads repository, username and organization.
func (wh *Webhook) target(v feeds.Values) error {
	repo, hasRepo := v.String(RepositoryParam), v.Has(RepositoryParam)
	user, hasUser := v.String(UsernameParam), v.Has(UsernameParam)
	org, hasOrg := v.String(OrganizationParam), v.Has(OrganizationParam)
	switch {
	case hasOrg && (hasRepo || hasUser):
		return feeds.Invalid(OrganizationParam, "is for an organization's hook: give it without repository and username")
	case hasOrg:
		if !ownerRule.MatchString(org) {
			return feeds.Invalid(OrganizationParam, "must be a GitHub organization name, not %q", org)
		}
		wh.owner = org
		return nil
	case !hasRepo:
		return feeds.Invalid(RepositoryParam, "is required: owner/repo (or organization for an organization's hook)")
	}
	owner, name, hasSlash := strings.Cut(repo, "/")
	if !hasSlash {
		owner, name = user, repo
	} else if hasUser && user != owner {
		return feeds.Invalid(UsernameParam, "is %q but repository names owner %q", user, owner)
	}
	if !ownerRule.MatchString(owner) {
		return feeds.Invalid(RepositoryParam, "must be owner/repo (or repo with username), not %q", repo)
	}
	if !repoRule.MatchString(name) || name == "." || name == ".." {
		return feeds.Invalid(RepositoryParam, "must be owner/repo, not %q", repo)
	}
	wh.owner, wh.repo = owner, name
	return nil
}

// parseEvents reads events: a comma list, a JSON array, or *.
func (wh *Webhook) parseEvents(v feeds.Values) error {
	var list []string
	if raw := v.JSON(EventsParam); raw != nil {
		if err := json.Unmarshal(raw, &list); err != nil {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return feeds.Invalid(EventsParam, "must be a comma list or a JSON array of GitHub event names")
			}
			if strings.HasPrefix(strings.TrimSpace(s), "[") {
				if err := json.Unmarshal([]byte(s), &list); err != nil {
					return feeds.Invalid(EventsParam, "is not a JSON array of event names: %v", err)
				}
			} else {
				list = strings.Split(s, ",")
			}
		}
	}
	seen := map[string]bool{}
	for _, e := range list {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
			continue
		case e == "*":
			wh.all = true
		case !nameRule.MatchString(e):
			return feeds.Invalid(EventsParam, "names %q, which is not a GitHub event (push, pull_request, issues, ...)", e)
		}
		if !seen[e] {
			seen[e] = true
			wh.events = append(wh.events, e)
		}
	}
	if len(wh.events) == 0 {
		wh.events = []string{"push"}
	}
	if wh.all {
		wh.events = []string{"*"}
	}
	return nil
}

var (
	_ feeds.Receiver    = (*Webhook)(nil)
	_ feeds.Registrar   = (*Webhook)(nil)
	_ feeds.Reregistrar = (*Webhook)(nil)
)

// subscribed reports whether the feed fires on GitHub event name.
func (wh *Webhook) subscribed(name string) bool {
	if wh.all {
		return true
	}
	for _, e := range wh.events {
		if e == name {
			return true
		}
	}
	return false
}

// Receive answers one delivery: it checks the signature, answers ping
// without firing, drops (200) events the feed does not subscribe to, and
// otherwise emits one CloudEvent and answers 202 once it is stored.
func (wh *Webhook) Receive(w http.ResponseWriter, r *http.Request, emit feeds.Emit) error {
	if handled, err := ingress.Method(w, r); handled {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	sig := r.Header.Get(gh.SHA256SignatureHeader)
	if sig == "" {
		return feeds.Reject(http.StatusUnauthorized, "A GitHub delivery must be signed: X-Hub-Signature-256 is missing (SHA-1 X-Hub-Signature alone is not accepted).")
	}
	if !strings.HasPrefix(sig, "sha256=") {
		return feeds.Reject(http.StatusUnauthorized, "X-Hub-Signature-256 must be sha256=<64 hex digits>.")
	}
	if err := gh.ValidateSignature(sig, body, wh.secret); err != nil {
		return feeds.Reject(http.StatusUnauthorized, "The signature does not match the body and this feed's secret.")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return feeds.Reject(http.StatusBadRequest, "Content-Type must be application/json or application/x-www-form-urlencoded, as GitHub sends.")
	}
	payload, err := gh.ValidatePayloadFromBody(mt, bytes.NewReader(body), "", nil)
	if err != nil {
		return feeds.Reject(http.StatusBadRequest, "The delivery could not be read: %v (GitHub sends application/json or application/x-www-form-urlencoded with payload=).", err)
	}
	name := gh.WebHookType(r)
	if !nameRule.MatchString(name) {
		return feeds.Reject(http.StatusBadRequest, "X-GitHub-Event must name a GitHub event (push, pull_request, ...), not %q.", name)
	}
	delivery := gh.DeliveryID(r)
	if !idRule.MatchString(delivery) {
		return feeds.Reject(http.StatusBadRequest, "X-GitHub-Delivery must be a delivery id of at most 256 visible ASCII characters.")
	}
	if !json.Valid(payload) {
		return feeds.Reject(http.StatusBadRequest, "The payload is not valid JSON.")
	}
	if name == "ping" {
		return answer(w, http.StatusOK, map[string]any{"id": delivery, "fired": false, "message": "pong"})
	}
	if !wh.subscribed(name) {
		return answer(w, http.StatusOK, map[string]any{"id": delivery, "fired": false,
			"message": fmt.Sprintf("This feed does not subscribe to %s events (events: %s).", name, strings.Join(wh.events, ","))})
	}
	ev, err := wh.event(name, delivery, payload)
	if err != nil {
		return err
	}
	if err := emit(r.Context(), ev); err != nil {
		return fmt.Errorf("store GitHub delivery %s: %w", delivery, err)
	}
	ingress.Answer(w, []string{ev.ID()}, false)
	return nil
}

// readBody is ingress.ReadBody (ingress.MaxBody is MaxBody) with a 413
// that names GitHub's limit.
func readBody(r *http.Request) ([]byte, error) {
	b, err := ingress.ReadBody(r)
	var re *feeds.RequestError
	if errors.As(err, &re) && re.Status == http.StatusRequestEntityTooLarge {
		return nil, feeds.Reject(http.StatusRequestEntityTooLarge, "The delivery is larger than GitHub's limit of 25 MB (%d bytes).", MaxBody)
	}
	return b, err
}

func answer(w http.ResponseWriter, status int, v any) error {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// meta holds the fields every GitHub payload may have that the event's
// attributes come from.
type meta struct {
	Action       string `json:"action"`
	Repository   *page  `json:"repository"`
	Organization *struct {
		Login string `json:"login"`
	} `json:"organization"`
	Sender *page `json:"sender"`
}

type page struct {
	HTMLURL string `json:"html_url"`
}

// metaOf reads meta's fields from an event go-github parsed, so that the
// payload is decoded once.
func metaOf(parsed any) meta {
	var m meta
	if e, ok := parsed.(interface{ GetAction() string }); ok {
		m.Action = e.GetAction()
	}
	switch e := parsed.(type) {
	case *gh.PushEvent:
		if e.Repo != nil {
			m.Repository = &page{HTMLURL: e.Repo.GetHTMLURL()}
		}
	case interface{ GetRepo() *gh.Repository }:
		if r := e.GetRepo(); r != nil {
			m.Repository = &page{HTMLURL: r.GetHTMLURL()}
		}
	}
	if e, ok := parsed.(interface{ GetOrg() *gh.Organization }); ok && e.GetOrg() != nil {
		m.Organization = &struct {
			Login string `json:"login"`
		}{Login: e.GetOrg().GetLogin()}
	}
	if e, ok := parsed.(interface{ GetSender() *gh.User }); ok && e.GetSender() != nil {
		m.Sender = &page{HTMLURL: e.GetSender().GetHTMLURL()}
	}
	return m
}

// event builds the CloudEvent of one delivery. GitHub event types that
// go-github knows are parsed with it (a payload of the wrong shape is a
// 400); newer ones pass through as they are.
func (wh *Webhook) event(name, delivery string, payload []byte) (event.Event, error) {
	var m meta
	subject := ""
	if gh.EventForType(name) != nil {
		parsed, err := gh.ParseWebHook(name, payload)
		if err != nil {
			return event.Event{}, feeds.Reject(http.StatusBadRequest, "The payload is not a GitHub %s event: %v", name, err)
		}
		subject, m = subjectOf(parsed), metaOf(parsed)
	} else if err := json.Unmarshal(payload, &m); err != nil {
		return event.Event{}, feeds.Reject(http.StatusBadRequest, "The %s payload is not a JSON object: %v", name, err)
	}
	typ := "com.github." + name
	if nameRule.MatchString(m.Action) {
		typ += "." + m.Action
	}
	ev := event.New()
	ev.SetID(delivery)
	ev.SetType(typ)
	ev.SetSource(wh.source(m))
	if subject != "" {
		ev.SetSubject(subject)
	}
	ev.SetTime(wh.now().UTC())
	ev.SetDataContentType(event.ApplicationJSON)
	ev.DataEncoded = payload
	return ev, nil
}

// source is the repository's page, else the organization's, else the
// feed's own target on github.com.
func (wh *Webhook) source(m meta) string {
	if m.Repository != nil && webURL(m.Repository.HTMLURL) {
		return m.Repository.HTMLURL
	}
	host := "https://github.com"
	if m.Sender != nil && webURL(m.Sender.HTMLURL) {
		u, _ := url.Parse(m.Sender.HTMLURL)
		host = u.Scheme + "://" + u.Host
	}
	if m.Organization != nil && ownerRule.MatchString(m.Organization.Login) {
		return host + "/" + m.Organization.Login
	}
	if wh.repo != "" {
		return host + "/" + wh.owner + "/" + wh.repo
	}
	return host + "/" + wh.owner
}

func webURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// subjectOf is what the event is about within its source: the ref of a
// push, branch or tag, the number of an issue or pull request, the tag of
// a release.
func subjectOf(parsed any) string {
	num := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	switch e := parsed.(type) {
	case *gh.PushEvent:
		return e.GetRef()
	case *gh.CreateEvent:
		return e.GetRef()
	case *gh.DeleteEvent:
		return e.GetRef()
	case *gh.IssuesEvent:
		return num(e.GetIssue().GetNumber())
	case *gh.IssueCommentEvent:
		return num(e.GetIssue().GetNumber())
	case *gh.PullRequestEvent:
		return num(e.GetPullRequest().GetNumber())
	case *gh.PullRequestReviewEvent:
		return num(e.GetPullRequest().GetNumber())
	case *gh.PullRequestReviewCommentEvent:
		return num(e.GetPullRequest().GetNumber())
	case *gh.ReleaseEvent:
		return e.GetRelease().GetTagName()
	}
	return ""
}

// client is a go-github client for the feed's token and API URL.
func (wh *Webhook) client() *gh.Client {
	c := gh.NewClient(wh.egress.Client(apiTimeout)).WithAuthToken(wh.token)
	c.BaseURL = wh.baseURL
	return c
}

// where names the hook's place on GitHub, for messages.
func (wh *Webhook) where() string {
	if wh.repo == "" {
		return "organization " + wh.owner
	}
	return "repository " + wh.owner + "/" + wh.repo
}

// hook is the hook's settings that follow the feed's parameters.
func (wh *Webhook) hook() *gh.Hook {
	return &gh.Hook{
		Active: gh.Bool(true),
		Events: wh.events,
		Config: &gh.HookConfig{
			URL:         gh.String(wh.url),
			ContentType: gh.String("json"),
			Secret:      gh.String(string(wh.secret)),
			InsecureSSL: gh.String("0"),
		},
	}
}

// Register creates the hook on GitHub when the feed has an access token,
// and adds its id to p as hookId. Without a token the user creates the hook
// from the URL and secret CREATE shows.
func (wh *Webhook) Register(ctx context.Context, p feeds.Params) error {
	if wh.token == "" {
		return nil
	}
	if wh.url == "" {
		return feeds.Reject(http.StatusInternalServerError, "Gust does not know the URL GitHub would deliver to.")
	}
	hook := wh.hook()
	hook.Name = gh.String("web")
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	var created *gh.Hook
	var err error
	if wh.repo == "" {
		created, _, err = wh.client().Organizations.CreateHook(ctx, wh.owner, hook)
	} else {
		created, _, err = wh.client().Repositories.CreateHook(ctx, wh.owner, wh.repo, hook)
	}
	if err != nil {
		return apiError("create the hook on "+wh.where(), err)
	}
	if created.GetID() == 0 {
		return feeds.Reject(http.StatusBadGateway, "GitHub created the hook on %s but gave no id.", wh.where())
	}
	wh.hookID = created.GetID()
	p.Set(HookIDParam, wh.hookID)
	return nil
}

// Unregister deletes the hook Register created; a hook GitHub no longer
// has is not an error.
func (wh *Webhook) Unregister(ctx context.Context) error {
	if wh.token == "" || wh.hookID == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	var resp *gh.Response
	var err error
	if wh.repo == "" {
		resp, err = wh.client().Organizations.DeleteHook(ctx, wh.owner, wh.hookID)
	} else {
		resp, err = wh.client().Repositories.DeleteHook(ctx, wh.owner, wh.repo, wh.hookID)
	}
	if err != nil && resp != nil && resp.StatusCode == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return apiError(fmt.Sprintf("delete hook %d on %s", wh.hookID, wh.where()), err)
	}
	return nil
}

// Reregister makes the hook on GitHub follow an UPDATE: the hook prev
// created is edited to the new events, secret and URL; when the update
// moved the feed to another repository or organization (or prev had no
// hook), a hook is created there and prev's is deleted. A hook GitHub no
// longer has is created again. Without a token there is nothing to do.
func (wh *Webhook) Reregister(ctx context.Context, prev feeds.Source, p feeds.Params) error {
	if wh.token == "" {
		return nil
	}
	old, _ := prev.(*Webhook)
	if old == nil || old.hookID == 0 || old.owner != wh.owner || old.repo != wh.repo || old.baseURL.String() != wh.baseURL.String() {
		delete(p, HookIDParam)
		wh.hookID = 0
		if err := wh.Register(ctx, p); err != nil {
			return err
		}
		if old == nil || old.hookID == 0 {
			return nil
		}
		err := old.Unregister(ctx)
		if err == nil {
			return nil
		}
		// Keep GitHub as it was: the feed stays on prev's hook.
		if undo := wh.Unregister(context.WithoutCancel(ctx)); undo != nil {
			return fmt.Errorf("%w; and the new hook %d on %s could not be removed: %v", err, wh.hookID, wh.where(), undo)
		}
		return err
	}
	wh.hookID = old.hookID
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	var resp *gh.Response
	var err error
	if wh.repo == "" {
		_, resp, err = wh.client().Organizations.EditHook(ctx, wh.owner, wh.hookID, wh.hook())
	} else {
		_, resp, err = wh.client().Repositories.EditHook(ctx, wh.owner, wh.repo, wh.hookID, wh.hook())
	}
	if err != nil && resp != nil && resp.StatusCode == http.StatusNotFound {
		// Someone deleted the hook on GitHub: make it again.
		delete(p, HookIDParam)
		wh.hookID = 0
		return wh.Register(ctx, p)
	}
	if err != nil {
		return apiError(fmt.Sprintf("edit hook %d on %s", wh.hookID, wh.where()), err)
	}
	return nil
}

// apiError turns a failed GitHub API call into what the feed action
// answers: GitHub's own message, 400 when GitHub refused the request (a
// bad token, no admin rights, an unknown repository), 502 when it could
// not be reached or failed.
func apiError(doing string, err error) error {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		msg := er.Message
		for _, e := range er.Errors {
			if e.Message != "" {
				msg += "; " + e.Message
			}
		}
		status := http.StatusBadGateway
		if er.Response.StatusCode >= 400 && er.Response.StatusCode < 500 {
			status = http.StatusBadRequest
		}
		return feeds.Reject(status, "GitHub refused to %s: %s (HTTP %d).", doing, msg, er.Response.StatusCode)
	}
	return feeds.Reject(http.StatusBadGateway, "Could not %s on GitHub: %v", doing, err)
}
