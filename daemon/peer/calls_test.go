package peer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestCallPoolReturnsEachCallersResultAndEnds(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newCallPool()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			for j := range 50 {
				want := fmt.Errorf("caller %d call %d", i, j)
				if got := p.do(ctx, func() error { return want }); got != want {
					errs <- fmt.Errorf("caller %d call %d got %v", i, j, got)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// After the manager stops, a call still runs (a session may be
	// closing), and no worker stays behind: checkLeaks.
	cancel()
	if err := p.do(ctx, func() error { return errors.ErrUnsupported }); err != errors.ErrUnsupported {
		t.Fatalf("call after cancel: %v", err)
	}
}
