package tokenapi

import (
	"context"
	"log/slog"
	"time"

	"github.com/machine-iam/machine-iam/shared/storage/store"
)

// recordUse notes that the credential used authenticated clientID at now,
// when the last use read with the credentials (last) is unknown or older
// than store.UseGranularity: in the common case it writes nothing, so the
// token endpoint stays one read. A failure to note it is logged, never
// turned against the client, which did authenticate.
func (s *Service) recordUse(ctx context.Context, ten, clientID string, used store.Credential, last *time.Time, now time.Time) {
	if s.Uses == nil || (last != nil && now.Sub(*last) < store.UseGranularity) {
		return
	}
	if err := s.Uses.RecordUse(ctx, ten, clientID, used, now); err != nil {
		slog.WarnContext(ctx, "credential use not recorded", "error", err.Error())
	}
}
