package client

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gusthub/gust/hub"
)

// ReplayOptions selects the stored events of a trigger to replay. Since
// and Until are RFC 3339 times or durations before now ("1h").
type ReplayOptions struct {
	Since  string `json:"since"`
	Until  string `json:"until,omitempty"`
	Rule   string `json:"rule,omitempty"`
	DryRun bool   `json:"dryRun,omitempty"`
	Limit  int    `json:"limit,omitempty"`
	// ActivationID selects the one event stored as that trigger
	// activation, instead of a time range.
	ActivationID string `json:"activationId,omitempty"`
}

// Replay re-delivers the stored events of trigger name selected by o to
// its rules (in a dry run, lists them): POST .../triggers/{name}/replay.
func (c *Client) Replay(ctx context.Context, name string, o ReplayOptions) ([]hub.Replayed, *Response, error) {
	p, err := entityPath("triggers", name)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.Do(ctx, http.MethodPost, p+"/replay", nil, o)
	if err != nil {
		return nil, resp, err
	}
	var v struct {
		Replayed []hub.Replayed `json:"replayed"`
	}
	if err := json.Unmarshal(resp.Body, &v); err != nil {
		return nil, resp, err
	}
	return v.Replayed, resp, nil
}
