package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/crmmap"
)

// Read streams the members of the list req.Audience names.
func (s *Source) Read(ctx context.Context, req connectors.ReadRequest, out connectors.Emitter) error {
	// A mapping error is said before any network call.
	m, err := newMapper(req, s.crm.OptOut)
	if err != nil {
		return fmt.Errorf("hubspot: %w", err)
	}
	c, ref, l, err := s.openList(ctx, req.Audience)
	if err != nil {
		return err
	}
	defer c.close()
	size := l.size()
	if size >= 0 {
		connectors.DeclareCount(out, size)
	}
	s.crm.Log.Info("reading HubSpot list", zap.String("list_id", string(l.ListID)), zap.String("processing_type", l.ProcessingType),
		zap.String("processing_status", l.ProcessingStatus), zap.Int64("size", size))
	r := &listReader{c: c, list: string(l.ListID), m: m, tune: s.tune, workers: s.crm.Concurrency, declared: size >= 0}
	if err := r.run(ctx, out); err != nil {
		return fmt.Errorf("hubspot: read %s (id %s): %w", ref, l.ListID, err)
	}
	return nil
}

// batch is one batch read's worth of record ids, in membership order;
// first is the position of the first in the list, counted from 1.
type batch struct {
	ids   []string
	first int64
	// total is the membership total the page that completed the batch
	// stated, -1 when none.
	total int64
}

// fetched is a batch with the contacts HubSpot returned.
type fetched struct {
	batch
	found   []contact
	missing []string
}

// listReader reads one list: a pager fetches membership pages in order
// and cuts them into batches, workers batch-read the contacts, and the
// caller's goroutine emits what they return.
type listReader struct {
	c        *client
	list     string
	m        *mapper
	tune     tuning
	workers  int
	declared bool
}

func (r *listReader) run(parent context.Context, out connectors.Emitter) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	batches := make(chan batch, r.workers)
	results := make(chan fetched, r.workers)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(batches)
		if err := r.page(ctx, batches); err != nil {
			cancel(err)
		}
	})
	var workers sync.WaitGroup
	for range max(r.workers, 1) {
		workers.Go(func() {
			for b := range batches {
				f, err := r.read(ctx, b)
				if err != nil {
					cancel(err)
					return
				}
				select {
				case results <- f:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	wg.Go(func() {
		workers.Wait()
		close(results)
	})
	var emitErr error
	for f := range results {
		if emitErr != nil {
			continue // drain, so the workers end
		}
		if err := r.emit(f, out); err != nil {
			emitErr = err
			cancel(err)
		}
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		if perr := parent.Err(); perr != nil {
			return perr
		}
		return err
	}
	return nil
}

// page fetches the membership pages in order and hands on batches of
// BatchRead ids (the last may be shorter), so each read is full however
// the pages fall.
func (r *listReader) page(ctx context.Context, batches chan<- batch) error {
	var (
		after   string
		pending []string
		pos     int64 = 1
		total   int64 = -1
	)
	send := func(n int) error {
		b := batch{ids: slices.Clone(pending[:n]), first: pos, total: total}
		pending = append(pending[:0], pending[n:]...)
		pos += int64(n)
		select {
		case batches <- b:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	for {
		q := url.Values{"limit": {strconv.Itoa(r.tune.pageSize)}}
		if after != "" {
			q.Set("after", after)
		}
		what := "read list memberships"
		if after != "" {
			what += " after cursor " + after
		}
		a, err := r.c.call(ctx, http.MethodGet, "/crm/v3/lists/"+url.PathEscape(r.list)+"/memberships", q, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if a.status != http.StatusOK {
			return failure(what, a, "the list no longer exists (deleted while it was read, or since the sync was set up): nothing is removed; "+notFoundAdvice)
		}
		p, err := decodeMemberships(a.body)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if p.total >= 0 {
			total = p.total
		}
		pending = append(pending, p.ids...)
		for len(pending) >= r.tune.batchSize {
			if err := send(r.tune.batchSize); err != nil {
				return err
			}
		}
		if p.after == "" {
			break
		}
		if p.after == after {
			return fmt.Errorf("%s: HubSpot returned the same cursor again, so the read would never end: run again, and report it if it repeats", what)
		}
		after = p.after
	}
	if len(pending) > 0 {
		return send(len(pending))
	}
	return nil
}

// read batch-reads the contacts of b, asking only for the mapped
// properties.
func (r *listReader) read(ctx context.Context, b batch) (fetched, error) {
	inputs := make([]map[string]string, len(b.ids))
	for i, id := range b.ids {
		inputs[i] = map[string]string{"id": id}
	}
	body := map[string]any{"inputs": inputs, "properties": r.m.props}
	what := fmt.Sprintf("batch-read contacts %d to %d of the list", b.first, b.first+int64(len(b.ids))-1)
	a, err := r.c.call(ctx, http.MethodPost, "/crm/v3/objects/contacts/batch/read", nil, body)
	if err != nil {
		return fetched{}, fmt.Errorf("%s: %w", what, err)
	}
	if a.status != http.StatusOK && a.status != http.StatusMultiStatus {
		return fetched{}, failure(what, a, "")
	}
	found, missing, err := decodeBatch(a.body)
	if err != nil {
		return fetched{}, fmt.Errorf("%s: %w", what, err)
	}
	return fetched{batch: b, found: found, missing: missing}, nil
}

// emit hands the batch's members to out in membership order: each found
// contact as a member or a rejection, each missing one as not found.
func (r *listReader) emit(f fetched, out connectors.Emitter) error {
	if !r.declared && f.total >= 0 {
		// The list gave no size; the memberships' total stands in.
		connectors.DeclareCount(out, f.total)
		r.declared = true
	}
	byID := make(map[string]*contact, len(f.found))
	for i := range f.found {
		byID[string(f.found[i].ID)] = &f.found[i]
	}
	var m audience.Member // its Attrs are reused for the batch: the engine copies them
	for i, id := range f.ids {
		line := f.first + int64(i)
		c, ok := byID[id]
		if !ok {
			// Listed in the 207's errors, or silently absent: either way
			// HubSpot has no such contact to give.
			out.Reject(ReasonNotFound, line)
			continue
		}
		if reason := r.m.fill(&m, c); reason != "" {
			out.Reject(reason, line)
			continue
		}
		m.Line = line
		if err := out.Emit(&m); err != nil {
			return fmt.Errorf("contact %d of the list: %w", line, err)
		}
	}
	return nil
}

// mapper turns a contact's properties into a member.
type mapper struct {
	// m is the contact properties that hold the key, the identifiers,
	// the consent answers and the attributes; the key's "" is the
	// record id.
	m *crmmap.Mapping[string]
	// props are the properties a batch read asks for.
	props []string
}

// recordIDKeys are the spellings of source.key that mean HubSpot's record
// id, which is also the key when source.key is empty.
var recordIDKeys = []string{"", "id", "hs_object_id"}

func newMapper(req connectors.ReadRequest, optOut []string) (*mapper, error) {
	m, err := crmmap.Map(req, crmmap.Places[string]{
		Of: func(p string) (string, error) {
			if p == "" {
				return "", errors.New("names no contact property: set its field")
			}
			return p, nil
		},
		IsRecordKey: func(k string) bool { return slices.Contains(recordIDKeys, k) },
		OptOut:      func(p string) bool { return slices.Contains(optOut, p) },
		NoFields:    "contact property: map at least email or phone (for example email: email, phone: phone)",
		Parse:       attrValue,
		Reasons:     crmmap.Reasons{MissingKey: ReasonMissingKey, NoIdentifiers: ReasonNoIdentifiers, InvalidConsent: ReasonInvalidConsent},
	})
	if err != nil {
		return nil, err
	}
	props := slices.DeleteFunc(m.Places(), func(p string) bool { return p == "" })
	slices.Sort(props)
	return &mapper{m: m, props: slices.Compact(props)}, nil
}

// fill sets dst from c, or returns why the contact is rejected.
func (m *mapper) fill(dst *audience.Member, c *contact) string {
	return m.m.Fill(dst, func(p string) string {
		if p == "" {
			return string(c.ID)
		}
		return string(c.Properties[p])
	})
}

// attrValue reads a contact property as attribute a. HubSpot sends every
// value as a string: numbers in decimal, booleans as "true"/"false",
// datetimes as ISO 8601 (2023-05-30T14:29:25.170Z), dates as 2023-05-30,
// and, in older properties and integrations, either as Unix epoch
// milliseconds — read as such when the value is all digits.
func attrValue(a *connectors.Attribute, raw string) audience.Value {
	if a.Type == audience.AttrTime {
		if ms, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64); err == nil {
			return audience.TimeValue(time.UnixMilli(ms))
		}
	}
	return a.Parse(raw)
}
