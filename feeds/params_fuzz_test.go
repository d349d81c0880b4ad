package feeds_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/feeds"
	_ "github.com/gusthub/gust/feeds/alarms"
	_ "github.com/gusthub/gust/feeds/cloudevents"
	_ "github.com/gusthub/gust/feeds/couchdb"
	_ "github.com/gusthub/gust/feeds/github"
	_ "github.com/gusthub/gust/feeds/mqtt"
	_ "github.com/gusthub/gust/feeds/slack"
	_ "github.com/gusthub/gust/feeds/webhook"
)

// FuzzFeedParams gives arbitrary parameter objects to the lifecycle
// request parsing and to every registered provider's typed parameter
// parsing, New and Validate, as a CREATE does before anything is stored.
// The properties: no panic (the manager would turn one into a 500), and
// every rejection is an error with a 4xx status and a message.
func FuzzFeedParams(f *testing.F) {
	providers := feeds.Registered().Providers()
	if len(providers) < 9 {
		f.Fatalf("%d providers registered, want every feed of Gust", len(providers))
	}
	for _, s := range []string{
		`{"lifecycleEvent":"CREATE","triggerName":"/_/t","authKey":"u:p","cron":"*/5 * * * *","timezone":"Europe/Berlin","trigger_payload":{"a":1},"maxTriggers":3}`,
		`{"lifecycleEvent":"create","triggerName":"t","date":"2099-01-01T00:00:00Z","deleteAfterFire":"rules"}`,
		`{"lifecycleEvent":"READ","triggerName":"/guest/t","minutes":"5","startDate":4102444800000,"stopDate":"2100-01-01"}`,
		`{"lifecycleEvent":"DELETE","triggerName":"/a/b/c","cron":"61 * * * *","timezone":"Mars/Olympus"}`,
		`{"lifecycleEvent":1,"triggerName":null,"minutes":1.5,"fireMissed":"maybe","date":-1e300}`,
		`{"url":"http://127.0.0.1:5984","dbname":"db","filter":"d/f","query_params":{"s":"new"},"include_docs":"true","since":"now"}`,
		`{"url":"ftp://x","dbname":" ","since":{"seq":[1]}}`,
		`{"repository":"owner/repo","events":"push,pull_request","secret":"s","baseUrl":"https://ghe.example/api/v3/","hookId":"12"}`,
		`{"username":"o","repository":"r","organization":"org","accessToken":"t","events":["push",7]}`,
		`{"url":"tcp://127.0.0.1:1883","topic":"sensors/+/temp","qos":2,"clientId":"c","caCert":"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n","insecureSkipVerify":true}`,
		`{"url":"ssl://h:99999","topic":"#/x","qos":-1,"clientCert":"x","clientKey":"y"}`,
		`{"signingSecret":"8f742231b10e8888abcd99yyyzzz85a5","botToken":"xoxb-1","type":"com.example.t"}`,
		`{"type":"","secret":"","source":"%zz","maxTriggers":1e400}`,
		`{}`, `{"":""}`, `{"minutes":"\u0000"}`,
	} {
		for i := range providers {
			f.Add(uint8(i), []byte(s))
		}
	}
	now := time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		var params feeds.Params
		if json.Unmarshal(body, &params) != nil || params == nil {
			return // the API takes only JSON objects as parameters
		}
		p := providers[int(which)%len(providers)]
		req, _, err := feeds.ParseRequest(p.Path(), params.Clone())
		check(t, p, body, "lifecycle request", err)
		if err != nil {
			req.Params = params.Clone()
		}
		cfg := feeds.Config{
			Trigger: actions.Name{Namespace: "guest", Name: "t"}, Params: req.Params,
			URL: "http://127.0.0.1:1/api/v1/feeds/guest/t", Logger: log, Now: func() time.Time { return now },
		}
		src, err := p.Build(cfg)
		check(t, p, body, "build", err)
		if v, ok := src.(feeds.Validator); ok && err == nil {
			check(t, p, body, "validate", v.Validate())
		}
	})
}

// check fails t unless err is nil or a client error with a message.
func check(t *testing.T, p feeds.Provider, body []byte, step string, err error) {
	t.Helper()
	var withStatus interface{ HTTPStatus() int }
	switch {
	case err == nil:
	case errors.As(err, &withStatus) && withStatus.HTTPStatus() >= 400 && withStatus.HTTPStatus() < 500 && err.Error() != "":
	default:
		t.Fatalf("%s %s of %q: %T %v, which would not be a 4xx", p.Path(), step, body, err, err)
	}
}
