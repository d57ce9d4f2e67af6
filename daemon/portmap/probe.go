package portmap

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// probe asks the gateway in r with every protocol at once. Of the answers
// that come within cfg.ProbeWindow of the first, it keeps the preferred one
// (UPnP, then PCP, then NAT-PMP) and closes the others; every probe has
// stopped when it returns.
func probe(ctx context.Context, cfg Config, r route) (gateway, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.ProbeTimeout)
	defer cancel()
	type prober struct {
		method string
		probe  func(context.Context) (gateway, error)
	}
	var probes []prober // in order of preference
	for _, p := range []prober{
		{MethodUPnP, func(ctx context.Context) (gateway, error) {
			return probeUPnP(ctx, r, cfg.Description, leaseOr(cfg.Lease, UPnPLease))
		}},
		{MethodPCP, func(ctx context.Context) (gateway, error) {
			g := &pcpGateway{gw: r.gw, self: r.self, lease: leaseOr(cfg.Lease, PMPLease)}
			return g, g.announce(ctx)
		}},
		{MethodNATPMP, func(ctx context.Context) (gateway, error) {
			g := &pmpGateway{gw: r.gw, self: r.self, lease: leaseOr(cfg.Lease, PMPLease)}
			_, err := g.externalAddr(ctx)
			return g, err
		}},
	} {
		if slices.Contains(cfg.Protocols, p.method) {
			probes = append(probes, p)
		}
	}
	type answer struct {
		rank int
		gw   gateway
		err  error
	}
	answers := make(chan answer, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Go(func() {
			g, err := p.probe(ctx)
			answers <- answer{i, g, err}
		})
	}
	var (
		best   *answer
		window <-chan time.Time
		errs   []error
	)
wait:
	for range probes {
		select {
		case a := <-answers:
			if a.err != nil {
				errs = append(errs, a.err)
				continue
			}
			if best == nil || a.rank < best.rank {
				if best != nil {
					best.gw.close()
				}
				best = &a
			} else {
				a.gw.close()
			}
			if best.rank == 0 {
				break wait // nothing is preferred to it
			}
			if window == nil {
				t := time.NewTimer(cfg.ProbeWindow)
				defer t.Stop()
				window = t.C
			}
		case <-window:
			break wait
		}
	}
	cancel()
	wg.Wait()
	close(answers)
	for a := range answers { // too late: not used
		if a.err == nil {
			a.gw.close()
		}
	}
	if best == nil {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("%w %s at %s (%s)", errNoGateway, strings.Join(cfg.Protocols, ", "), r.gw, strings.Join(msgs, "; "))
	}
	return best.gw, nil
}

func leaseOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
