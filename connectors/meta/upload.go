package meta

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"maps"
	"strconv"
	"sync"

	fb "github.com/huandu/facebook/v2"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/retry"
)

// payloads recycles payload buffers: a full request is a few megabytes.
var payloads = sync.Pool{New: func() any { return new([]byte) }}

// upload sends members to a users edge (users or usersreplace) as one
// request; session is nil outside a replace session.
func (d *Destination) upload(ctx context.Context, g *graph, method fb.Method, path string,
	members []connectors.Upload, session *sessionParam) (answer, int, error) {
	buf := payloads.Get().(*[]byte)
	*buf = encodePayload((*buf)[:0], members)
	params := fb.Params{"payload": string(*buf)}
	payloads.Put(buf)
	if session != nil {
		params["session"] = session
	}
	res, retries, err := g.call(ctx, method, path, params)
	if err != nil {
		return answer{}, retries, err
	}
	return readAnswer(res), retries, nil
}

// sessionParam is the session of a multi-request upload.
type sessionParam struct {
	SessionID         uint64 `json:"session_id"`
	BatchSeq          int    `json:"batch_seq"`
	LastBatchFlag     bool   `json:"last_batch_flag"`
	EstimatedNumTotal int    `json:"estimated_num_total"`
}

// Apply adds (POST /{id}/users) or removes (DELETE /{id}/users) a batch.
// A batch is one request; a batch that needs more than MaxRows rows (a
// member with several values of one kind) is cut into several.
func (d *Destination) Apply(ctx context.Context, aud connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	var res connectors.BatchResult
	if len(b.Members) == 0 {
		return res, nil
	}
	g, err := d.graph(ctx)
	if err != nil {
		return res, err
	}
	method := fb.POST
	if b.Op == connectors.OpRemove {
		method = fb.DELETE // sent as POST with method=DELETE
	}
	for lo := 0; lo < len(b.Members); {
		hi := cut(b.Members, lo, d.tune.rows)
		a, retries, err := d.upload(ctx, g, method, aud.ID+"/users", b.Members[lo:hi], nil)
		res.Retries += retries
		if err != nil {
			what := fmt.Sprintf("%s batch %d (%d members) on audience %s", b.Op, b.Seq, hi-lo, aud.ID)
			return res, d.classify(what, err, rejectBatch)
		}
		absorb(&res, a, b.Members[lo:hi], lo)
		lo = hi
	}
	d.record(res)
	return res, nil
}

// record keeps a batch's counts for Feedback.
func (d *Destination) record(res connectors.BatchResult) {
	if res.RequestID == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.feedback[res.RequestID] = maps.Clone(res.Platform)
}

// replaceProgress is a replace session that failed part-way, kept so the
// engine's retry resumes it instead of opening a second session, which
// Meta would refuse while the first is open.
type replaceProgress struct {
	sessionID uint64
	total     int
	// base is the batch_seq before this run's first batch: 0 for a new
	// session, more when resuming one an earlier run left open.
	base    int
	resumed bool
	acked   int // batches of this run Meta acknowledged
	res     connectors.BatchResult
}

var _ connectors.Replacer = (*Destination)(nil)

// Replace makes the audience exactly members through /{id}/usersreplace
// in one session: batch_seq from 1, last_batch_flag on the last batch,
// estimated_num_total = total. Members are read from the iterator one
// batch at a time, each of at most the sync's batch_size members
// (LimitBatch) and MaxRows rows. If a batch fails, the next call for the same audience
// in this run resumes the session after the last acknowledged batch.
func (d *Destination) Replace(ctx context.Context, aud connectors.Audience, total int, members iter.Seq2[connectors.Upload, error]) (connectors.BatchResult, error) {
	res, _, err := d.ReplaceInSession(ctx, aud, total, members, connectors.ReplaceSession{}, nil)
	return res, err
}

var _ connectors.SessionReplacer = (*Destination)(nil)

// ReplaceInSession is Replace with the session made durable
// (connectors.SessionReplacer). Meta refuses every other change to an
// audience while a replace session is open, for up to 90 minutes after its
// last batch, and has no call to abandon one: so a session an earlier run
// left open (resume) is finished rather than left to block the audience.
// Its batches continue from resume.Batch, which Meta takes whether or not
// that batch arrived (a repeated batch_seq is a retry), and what the
// session staged before stays in the audience.
func (d *Destination) ReplaceInSession(ctx context.Context, aud connectors.Audience, total int, members iter.Seq2[connectors.Upload, error],
	resume connectors.ReplaceSession, record func(connectors.ReplaceSession) error) (connectors.BatchResult, bool, error) {
	if total <= 0 {
		return connectors.BatchResult{}, false, connectors.Fatal(errors.New("a full refresh cannot empty a Meta audience: usersreplace needs at least one member; " +
			"run without --full-refresh to remove the members instead"))
	}
	g, err := d.graph(ctx)
	if err != nil {
		return connectors.BatchResult{}, false, err
	}
	prog, err := d.progress(ctx, g, aud.ID, total, resume)
	if err != nil {
		return connectors.BatchResult{}, false, err
	}
	next, stop := iter.Pull2(members)
	defer stop()
	pull := func() (connectors.Upload, bool, error) {
		u, err, ok := next()
		return u, ok, err
	}
	pending, more, err := pull()
	most := d.replaceBatch()
	batch := make([]connectors.Upload, 0, min(total, most))
	offset := 0
	for i := 1; more && err == nil; i++ {
		batch = batch[:0]
		for rows := 0; more && err == nil; {
			r := rowsOf(pending)
			if len(batch) > 0 && (rows+r > d.tune.rows || len(batch) == most) {
				break
			}
			batch, rows = append(batch, pending), rows+r
			pending, more, err = pull()
		}
		if err != nil {
			break
		}
		if i > prog.acked {
			seq := prog.base + i
			if record != nil {
				if err := record(connectors.ReplaceSession{ID: strconv.FormatUint(prog.sessionID, 10), Batch: seq}); err != nil {
					return prog.res, prog.resumed, connectors.Fatal(fmt.Errorf("replace audience %s: record batch %d of session %d: %w", aud.ID, seq, prog.sessionID, err))
				}
			}
			sess := &sessionParam{SessionID: prog.sessionID, BatchSeq: seq, LastBatchFlag: !more, EstimatedNumTotal: prog.base + total}
			a, retries, uerr := d.upload(ctx, g, fb.POST, aud.ID+"/usersreplace", batch, sess)
			prog.res.Retries += retries
			if uerr != nil {
				what := fmt.Sprintf("replace audience %s: batch %d of session %d", aud.ID, seq, prog.sessionID)
				return prog.res, prog.resumed, d.classify(what, uerr, connectors.Fatal)
			}
			absorb(&prog.res, a, batch, offset)
			prog.acked = i
			if b := retry.From(ctx); b != nil {
				b.Progress()
			}
		}
		offset += len(batch)
	}
	if err != nil {
		return prog.res, prog.resumed, fmt.Errorf("replace audience %s: read the members: %w", aud.ID, err)
	}
	if offset == 0 {
		return prog.res, prog.resumed, connectors.Fatal(fmt.Errorf("replace audience %s: %d members were announced but none came", aud.ID, total))
	}
	d.finishReplace(aud.ID)
	res := prog.res
	res.RequestID = strconv.FormatUint(prog.sessionID, 10)
	d.record(res)
	d.log.Info("audience replaced", zap.String("audience_id", aud.ID), zap.Int("members", offset),
		zap.Int("batches", prog.acked), zap.Bool("resumed_session", prog.resumed))
	return res, prog.resumed, nil
}

// progress returns the replace session of aud for this run: the one an
// earlier call of this run opened for this total, else resume if Meta
// still has it open, else a new one.
func (d *Destination) progress(ctx context.Context, g *graph, aud string, total int, resume connectors.ReplaceSession) (*replaceProgress, error) {
	d.mu.Lock()
	p, ok := d.replaces[aud]
	d.mu.Unlock()
	if ok && p.total == total {
		return p, nil
	}
	p = &replaceProgress{sessionID: newSessionID(), total: total}
	if id, err := strconv.ParseUint(resume.ID, 10, 64); err == nil && id > 0 {
		open, err := d.replaceOpen(ctx, g, aud)
		if err != nil {
			return nil, err
		}
		if open {
			p.sessionID, p.base, p.resumed = id, max(resume.Batch, 1)-1, true
			d.log.Info("finishing the replace session an earlier run left open",
				zap.String("audience_id", aud), zap.String("session_id", resume.ID), zap.Int("from_batch", resume.Batch))
		}
	}
	d.mu.Lock()
	d.replaces[aud] = p
	d.mu.Unlock()
	return p, nil
}

// replaceOpen reports whether Meta has a replace session open on aud
// (operation_status 300).
func (d *Destination) replaceOpen(ctx context.Context, g *graph, aud string) (bool, error) {
	res, _, err := g.call(ctx, fb.GET, aud, fb.Params{"fields": "operation_status"})
	if err != nil {
		return false, d.classify("read the operation status of audience "+aud, err, connectors.Fatal)
	}
	return number(res.Get("operation_status.code")) == operationReplacing, nil
}

// operationReplacing is the operation_status code of an audience with a
// replace session in progress.
const operationReplacing = 300

func (d *Destination) finishReplace(aud string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.replaces, aud)
}

// newSessionID returns a random positive 63-bit session id.
func newSessionID() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return binary.BigEndian.Uint64(b[:])>>1 | 1
}

var _ connectors.FeedbackPoller = (*Destination)(nil)

// Feedback sums what Meta said about the run's requests (received rows,
// invalid entries and their sampled reasons) and reads the audience's
// approximate size. Meta processes uploads for up to a day, so the size
// lags; the counts are final when the requests return.
func (d *Destination) Feedback(ctx context.Context, aud connectors.Audience, requestIDs []string) (connectors.PlatformReport, error) {
	rep := connectors.PlatformReport{Size: -1, Counts: map[string]int64{}}
	d.mu.Lock()
	for _, id := range requestIDs {
		for k, v := range d.feedback[id] {
			rep.Counts[k] += v
		}
		delete(d.feedback, id)
	}
	d.mu.Unlock()
	size, err := d.AudienceSize(ctx, aud)
	switch {
	case err != nil:
		// The counts stand on their own; the size is a nicety.
		d.log.Warn("could not read the audience size", zap.String("audience_id", aud.ID), zap.Error(err))
	case size.Known:
		rep.Size = size.Members
		rep.Counts["approximate_count_lower_bound"] = size.Members
		rep.Counts["approximate_count_upper_bound"] = size.Upper
	}
	if len(rep.Counts) == 0 {
		rep.Counts = nil
	}
	return rep, nil
}

var _ connectors.AudienceSizer = (*Destination)(nil)

// AudienceSize reads the audience's approximate_count_lower_bound and
// approximate_count_upper_bound: Meta's range for the people it matched,
// which lags uploads by up to a day. A bound that is missing or negative
// (Meta's "not available") leaves the size unknown.
func (d *Destination) AudienceSize(ctx context.Context, aud connectors.Audience) (connectors.AudienceSize, error) {
	g, err := d.graph(ctx)
	if err != nil {
		return connectors.AudienceSize{}, err
	}
	res, _, err := g.call(ctx, fb.GET, aud.ID, fb.Params{"fields": "approximate_count_lower_bound,approximate_count_upper_bound"})
	if err != nil {
		return connectors.AudienceSize{}, d.classify("read the size of audience "+aud.ID, err, connectors.Fatal)
	}
	lower, ok := res["approximate_count_lower_bound"]
	if !ok || number(lower) < 0 {
		return connectors.AudienceSize{}, nil
	}
	return connectors.AudienceSize{Known: true, Members: number(lower), Upper: max(number(res["approximate_count_upper_bound"]), 0), Approximate: true}, nil
}
