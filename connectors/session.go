package connectors

import (
	"context"
	"iter"
)

// ReplaceSession is where a replace session stands, as the engine records
// it durably before each of its batches goes out, so that the next run can
// finish a session a crash left open instead of finding the audience
// blocked by it.
type ReplaceSession struct {
	// ID is the platform's session id.
	ID string `json:"id"`
	// Batch is the sequence number of the batch about to be sent: every
	// earlier batch was acknowledged; this one may or may not have been
	// applied.
	Batch int `json:"batch"`
}

// SessionReplacer is a Replacer whose replace session outlives the process
// that opened it (Meta keeps a usersreplace session open, refusing every
// other change to the audience, until its last batch arrives or it times
// out).
type SessionReplacer interface {
	Replacer
	// ReplaceInSession is Replace with the session made durable. Before
	// each batch goes out it calls record with the session's position; if
	// record fails, that batch is not sent and the error is returned.
	// resume, when its ID is set, is a session an earlier run recorded: if
	// the platform still has it open, the members go up in it (batches
	// from resume.Batch on; what the session staged before stays staged),
	// otherwise in a new session. resumed reports whether the old session
	// was used: the audience then also holds what it staged earlier.
	ReplaceInSession(ctx context.Context, aud Audience, total int, members iter.Seq2[Upload, error],
		resume ReplaceSession, record func(ReplaceSession) error) (res BatchResult, resumed bool, err error)
}

// BatchLimiter is a Destination that cuts some requests itself rather than
// taking them from the engine's batches (Meta's replace session cuts the
// stream of members Replace hands it). The engine tells it the sync's
// batch_size before applying, so those requests stay within it too; the
// platform's own limit still applies when it is lower.
type BatchLimiter interface {
	LimitBatch(members int)
}
