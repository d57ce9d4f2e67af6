package store

import (
	"context"
	"database/sql"
	"os"
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
	// walSizeLimit bounds the WAL file by size, where the cadence above
	// bounds it only by time: a burst of large messages wrote hundreds
	// of megabytes of WAL within one checkpointInterval. The commit that
	// grows the file past it checkpoints (TRUNCATE) before it returns,
	// so the file stays under it plus one transaction. It is above
	// journalSizeLimit, so that steady use never reaches it.
	walSizeLimit = 16 << 20
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
	walPath   string // the WAL file, whose size boundSize checks
	// sizeLimit is walSizeLimit; tests lower it. retryAbove is the WAL
	// size under which boundSizeLocked does not try again after a
	// checkpoint that readers held up, overWarned whether it said so
	// (both touched only with the writer's mutex held).
	sizeLimit  atomic.Int64
	retryAbove int64
	overWarned bool
	kick       chan struct{} // cap 1: checkpointEvery commits happened
	ctx        context.Context
	cancel     context.CancelFunc
	done       chan struct{}
}

func startCheckpointer(db *sql.DB, writer sync.Locker, walPath string, log *zap.Logger) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, writer: writer, walPath: walPath, log: log, kick: make(chan struct{}, 1),
		ctx: ctx, cancel: cancel, done: make(chan struct{})}
	c.restartAt.Store(restartFrames)
	c.sizeLimit.Store(walSizeLimit)
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

// boundSizeLocked checkpoints now, with TRUNCATE, if the WAL file has
// grown past sizeLimit. The writer's mutex must be held (the commit that
// grew it has just returned): TRUNCATE needs the write lock, and no
// commit may grow the WAL meanwhile. Readers holding old snapshots can
// keep it from finishing; then it tries again only once the WAL has grown
// by another eighth of the limit, not after every commit, and warns once
// until the WAL is back under the limit.
func (c *checkpointer) boundSizeLocked() {
	fi, err := os.Stat(c.walPath)
	if err != nil {
		return // no WAL file: nothing to bound
	}
	limit := c.sizeLimit.Load()
	if fi.Size() <= limit {
		c.retryAbove, c.overWarned = 0, false
		return
	}
	if fi.Size() <= c.retryAbove {
		return
	}
	c.commits.Store(0)
	if _, _, err := c.run1("TRUNCATE"); err != nil && c.ctx.Err() == nil {
		c.log.Warn("checkpoint the store's WAL at its size limit", zap.Int64("wal_bytes", fi.Size()), zap.Error(err))
	}
	if fi, err = os.Stat(c.walPath); err != nil || fi.Size() <= limit {
		c.retryAbove, c.overWarned = 0, false
		return
	}
	c.retryAbove = fi.Size() + limit/8
	if !c.overWarned {
		c.overWarned = true
		c.log.Warn("store WAL is over its size limit; readers may be holding old snapshots",
			zap.Int64("wal_bytes", fi.Size()), zap.Int64("limit", limit))
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
