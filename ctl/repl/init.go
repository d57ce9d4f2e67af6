package repl

import (
	"context"
	"fmt"
)

func runInit(ctx context.Context, con *console, a *args) error {
	res, err := con.c.Init(ctx, a.pos[0], a.tracker)
	if err != nil {
		return err
	}
	return con.print(a, res, msgInit(res))
}

// completeNamesCmd prints the contact names, one a line, for the
// completion scripts; it prints nothing (and exits 0) when chatd cannot
// be asked, so that completion stays quiet.
const completeNamesCmd = "__complete-names"

func runCompleteNames(ctx context.Context, con *console, a *args) error {
	for _, n := range con.contactNames() {
		fmt.Fprintln(con.out, n)
	}
	return nil
}
