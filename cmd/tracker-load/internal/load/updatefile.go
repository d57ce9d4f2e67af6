package load

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"
)

// WriteUpdates signs cfg.Updates updates of the preloaded users and writes
// them to w, one a line: the path, a space and the JSON body of the PUT
// ("/v1/users/load0000042 {"record":{...}}"). scripts/wrk-update.lua sends
// them with wrk, a client much cheaper than this one, so that the tracker
// keeps more of the machine's CPU.
//
// Update j is for user j mod Users at seq base+j, base being the wall clock
// in nanoseconds: above the seqs of any earlier run, and each update is
// another seq, so none is a replay. The same user comes back only every
// Users lines, so updates sent in order by a few hundred connections
// never overtake one another (an overtaken update would rightly be
// refused as stale).
func WriteUpdates(ctx context.Context, cfg Config, w io.Writer) (Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	start := time.Now()
	recs, err := cfg.signEach(ctx, cfg.Updates, uint64(start.UnixNano()), func(j int) int { return j % cfg.Users })
	if err != nil {
		return Result{}, err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var line []byte
	for _, rec := range recs {
		line = append(line[:0], "/v1/users/"...)
		line = append(line, rec.Name...)
		line = append(line, ` {"record":`...)
		line = append(rec.AppendJSON(line), "}\n"...)
		bw.Write(line)
	}
	if err := bw.Flush(); err != nil {
		return Result{}, fmt.Errorf("write updates: %w", err)
	}
	return Result{Phase: "signed", OK: int64(len(recs)), Elapsed: time.Since(start)}, nil
}
