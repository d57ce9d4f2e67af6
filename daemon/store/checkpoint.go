package store

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Checkpoint cadence: after this many commits, and at least this often
// while there are any.
const (
	checkpointEvery    = 256
	checkpointInterval = time.Second
	// restartFrames is the WAL size (in pages) at which it is restarted:
	// SQLite's own default for automatic checkpoints. journalSizeLimit
	// (see dsn) is above it, so that a WAL restarted at this size is
	// written over in place rather than truncated and grown again.
	restartFrames = 1000
	// walWarnFrames is a WAL size (in pages) worth a warning: readers
	// holding old snapshots keep the checkpointer from catching up.
	walWarnFrames = 64 << 10
)

// checkpointer copies the WAL into the database file from a connection of
// its own. SQLite's automatic checkpoint runs inside whichever commit
// crosses the threshold, fsyncs included, which made one commit in a few
// hundred take milliseconds: most of the p90/p99 of send-to-stored. Here
// the writer never waits for it: a PASSIVE checkpoint runs beside the
// writer and skips what readers still use. Durability is unchanged: a
// commit is in the WAL, synced, when it returns (see writeTx); a
// checkpoint syncs the WAL before copying it and the database after.
type checkpointer struct {
	db      *sql.DB     // one connection, used for nothing else
	writer  sync.Locker // held by every write transaction (Store.wmu)
	log     *zap.Logger
	commits atomic.Int64 // commits since the last checkpoint
	// restartAt is restartFrames; tests lower it to see restarts sooner.
	restartAt atomic.Int64
	kick      chan struct{} // cap 1: checkpointEvery commits happened
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}
}

func startCheckpointer(db *sql.DB, writer sync.Locker, log *zap.Logger) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, writer: writer, log: log, kick: make(chan struct{}, 1),
		ctx: ctx, cancel: cancel, done: make(chan struct{})}
	c.restartAt.Store(restartFrames)
	go c.run()
	return c
}

// committed counts a commit of the writer.
func (c *checkpointer) committed() {
	if c.commits.Add(1)%checkpointEvery == 0 {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

// stop ends the checkpointer, interrupting a checkpoint in progress (the
// WAL keeps what was not copied; SQLite checkpoints at the last close).
func (c *checkpointer) stop() {
	c.cancel()
	<-c.done
}

func (c *checkpointer) run() {
	defer close(c.done)
	tick := time.NewTicker(checkpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.kick:
		case <-tick.C:
			if c.commits.Load() == 0 {
				continue
			}
		}
		c.commits.Store(0)
		c.checkpoint()
	}
}

func (c *checkpointer) checkpoint() {
	walFrames, _, err := c.run1("PASSIVE")
	if err == nil && int64(walFrames) >= c.restartAt.Load() {
		// Under steady writes the WAL is never fully copied when the
		// writer looks, so it would grow for ever (the writer starts the
		// WAL anew by itself only if the whole WAL was copied before its
		// transaction began). A RESTART copies the few pages written
		// since the PASSIVE pass, syncs the database and makes the next
		// commit start the WAL from its beginning. It needs the write
		// lock: it takes the writer's mutex, so that a writer waits for
		// it on the mutex, woken the moment it is done, rather than in
		// SQLite's busy handler, which sleeps 1, 2, 5, 10... ms between
		// tries (the p99 and p999 of send-to-stored).
		c.writer.Lock()
		_, _, err = c.run1("RESTART")
		c.writer.Unlock()
	}
	if err != nil && c.ctx.Err() == nil {
		c.log.Warn("checkpoint the store's WAL", zap.Error(err))
	}
}

// run1 runs one checkpoint in mode and returns the WAL size in pages and
// how many of them are now in the database.
func (c *checkpointer) run1(mode string) (walFrames, copied int, err error) {
	var busy int
	err = c.db.QueryRowContext(c.ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &walFrames, &copied)
	if err == nil && walFrames > walWarnFrames {
		c.log.Warn("store WAL is large; readers may be holding old snapshots",
			zap.Int("wal_pages", walFrames), zap.Int("copied_pages", copied))
	}
	return walFrames, copied, err
}
