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
	acked     int // batches Meta acknowledged
	res       connectors.BatchResult
}

// Replace makes the audience exactly members through /{id}/usersreplace
// in one session: batch_seq from 1, last_batch_flag on the last batch,
// estimated_num_total = total. Members are read from the iterator one
// batch at a time. If a batch fails, the next call for the same audience
// in this run resumes the session after the last acknowledged batch.
func (d *Destination) Replace(ctx context.Context, aud connectors.Audience, total int, members iter.Seq2[connectors.Upload, error]) (connectors.BatchResult, error) {
	if total <= 0 {
		return connectors.BatchResult{}, connectors.Fatal(errors.New("a full refresh cannot empty a Meta audience: usersreplace needs at least one member; " +
			"run without --full-refresh to remove the members instead"))
	}
	g, err := d.graph(ctx)
	if err != nil {
		return connectors.BatchResult{}, err
	}
	prog := d.progress(aud.ID, total)
	next, stop := iter.Pull2(members)
	defer stop()
	pull := func() (connectors.Upload, bool, error) {
		u, err, ok := next()
		return u, ok, err
	}
	pending, more, err := pull()
	batch := make([]connectors.Upload, 0, min(total, d.tune.rows))
	offset := 0
	for seq := 1; more && err == nil; seq++ {
		batch = batch[:0]
		for rows := 0; more && err == nil; {
			r := rowsOf(pending)
			if rows+r > d.tune.rows && len(batch) > 0 {
				break
			}
			batch, rows = append(batch, pending), rows+r
			pending, more, err = pull()
		}
		if err != nil {
			break
		}
		if seq > prog.acked {
			sess := &sessionParam{SessionID: prog.sessionID, BatchSeq: seq, LastBatchFlag: !more, EstimatedNumTotal: total}
			a, retries, uerr := d.upload(ctx, g, fb.POST, aud.ID+"/usersreplace", batch, sess)
			prog.res.Retries += retries
			if uerr != nil {
				what := fmt.Sprintf("replace audience %s: batch %d of session %d", aud.ID, seq, prog.sessionID)
				return prog.res, d.classify(what, uerr, connectors.Fatal)
			}
			absorb(&prog.res, a, batch, offset)
			prog.acked = seq
		}
		offset += len(batch)
	}
	if err != nil {
		return prog.res, fmt.Errorf("replace audience %s: read the members: %w", aud.ID, err)
	}
	if offset == 0 {
		return prog.res, connectors.Fatal(fmt.Errorf("replace audience %s: %d members were announced but none came", aud.ID, total))
	}
	d.finishReplace(aud.ID)
	res := prog.res
	res.RequestID = strconv.FormatUint(prog.sessionID, 10)
	d.record(res)
	d.log.Info("audience replaced", zap.String("audience_id", aud.ID), zap.Int("members", offset), zap.Int("batches", prog.acked))
	return res, nil
}

// progress returns the replace session of aud for this run, opening one
// when there is none for this total.
func (d *Destination) progress(aud string, total int) *replaceProgress {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.replaces[aud]; ok && p.total == total {
		return p
	}
	p := &replaceProgress{sessionID: newSessionID(), total: total}
	d.replaces[aud] = p
	return p
}

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
	g, err := d.graph(ctx)
	var res fb.Result
	if err == nil {
		res, _, err = g.call(ctx, fb.GET, aud.ID, fb.Params{"fields": "approximate_count_lower_bound,approximate_count_upper_bound"})
	}
	if err != nil {
		// The counts stand on their own; the size is a nicety.
		d.log.Warn("could not read the audience size", zap.String("audience_id", aud.ID), zap.Error(err))
	} else {
		rep.Size = number(res["approximate_count_lower_bound"])
		rep.Counts["approximate_count_lower_bound"] = rep.Size
		rep.Counts["approximate_count_upper_bound"] = number(res["approximate_count_upper_bound"])
	}
	if len(rep.Counts) == 0 {
		rep.Counts = nil
	}
	return rep, nil
}
