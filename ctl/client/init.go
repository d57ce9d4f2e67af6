package client

import (
	"context"
	"net/http"

	"github.com/p2pchat/p2pchat/ctl/api"
)

// Init gives a daemon that has no name yet its name, registered on tracker
// ("" for the daemon's configured one). On a daemon that already has the
// name it reports it; another name is refused.
func (c *Client) Init(ctx context.Context, name, tracker string) (api.InitResult, error) {
	var res api.InitResult
	err := c.do(ctx, http.MethodPost, api.PathInit, api.InitRequest{Name: name, Tracker: tracker}, &res)
	return res, err
}
