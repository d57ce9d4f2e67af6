package repl

import (
	"context"
	"fmt"
)

func runInit(ctx context.Context, e *env, a *args) error {
	res, err := e.c.Init(ctx, a.pos[0], a.tracker)
	if err != nil {
		return err
	}
	return e.print(a, res, msgInit(res))
}

// completeNamesCmd prints the contact names, one a line, for the
// completion scripts; it prints nothing (and exits 0) when chatd cannot
// be asked, so that completion stays quiet.
const completeNamesCmd = "__complete-names"

func runCompleteNames(ctx context.Context, e *env, a *args) error {
	for _, n := range e.contactNames() {
		fmt.Fprintln(e.out, n)
	}
	return nil
}
