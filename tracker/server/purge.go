package server

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// RunPurge deletes records (and deletion tombstones) that expired more than
// PurgeGrace ago, once at start and then every PurgeInterval, until ctx is
// cancelled. The grace period keeps a name reserved for a user who is
// offline for a while; after it the name is free again. Failures are logged
// and retried at the next tick.
func (s *Server) RunPurge(ctx context.Context) {
	t := time.NewTicker(s.cfg.PurgeInterval)
	defer t.Stop()
	for {
		if _, err := s.PurgeOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("purge expired records", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PurgeOnce runs one purge pass and returns how many records it removed.
func (s *Server) PurgeOnce(ctx context.Context) (int64, error) {
	n, err := s.store.PurgeExpired(ctx, s.cfg.Now().Add(-s.cfg.PurgeGrace))
	if err == nil && n > 0 {
		s.log.Info("purged expired records", zap.Int64("count", n))
	}
	return n, err
}
