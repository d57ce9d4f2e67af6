package client

import (
	"context"
	"net/http"

	"github.com/p2pchat/p2pchat/ctl/api"
)

// Unregister deletes the user's name from the tracker; chatd stops
// announcing it.
func (c *Client) Unregister(ctx context.Context) (api.UnregisterResult, error) {
	var res api.UnregisterResult
	err := c.do(ctx, http.MethodDelete, api.PathRegistration, nil, &res)
	return res, err
}
