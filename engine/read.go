package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"slices"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/report"
)

const chunkSize = 512

// sourced is a member as read, with its source key hashed once here rather
// than once per destination.
type sourced struct {
	audience.Member
	key audience.MemberKey // KeyFromSource(Member.Key); zero when Key is ""
}

// ReasonKeyConflict counts a record whose source key an earlier record of
// the same read already had, with other data: the first record wins and the
// later one is left out. A repeat with the same data is a duplicate.
const ReasonKeyConflict = "key.conflict"

// collector is the Emitter the source writes into. It drops records whose
// source key repeats, then hands members in chunks to each destination's
// pipeline, so normalising and hashing run on every core, in parallel with
// the read.
type collector struct {
	ctx context.Context
	src *report.Source
	// keys maps half of each source key's hash to a hash of the first
	// record's data, to tell a duplicate from a conflict: 16 bytes a
	// member, held in memory only.
	keys map[uint64]uint64
	// dedup replaces keys in a streaming plan (stream.go, dedup.go).
	dedup *keyDedup
	seed  maphash.Seed
	chunk []sourced
	// attrs are the attributes the request asks for; arena holds the
	// attribute values of the chunk's members, len(attrs) each, so a
	// chunk's attributes cost one allocation and a read without
	// attributes costs nothing.
	attrs []connectors.Attribute
	arena []audience.Value
	// out prepares and classifies the chunks for every destination (nil
	// in tests of the collector alone).
	out    *pipeline
	ev     *events
	log    *zap.Logger
	closed bool
}

// Declare records how many records the source says the audience holds
// (connectors.Declarer).
func (c *collector) Declare(records int64) {
	c.src.Declared = records
}

// ShortReadError is a read that ended without error but yielded fewer
// records than the source declared the audience holds: a page lost, a
// list that shrank while it was read. The run removes nothing.
type ShortReadError struct {
	Declared, Read int64
}

func (e *ShortReadError) Error() string {
	return fmt.Sprintf("the source declared %d records but yielded %d: the read is incomplete "+
		"(a page lost, or the list changed while it was read); run the sync again, and if it "+
		"repeats check the list in the source system", e.Declared, e.Read)
}

func (c *collector) Emit(m *audience.Member) error {
	c.src.Read++
	var key audience.MemberKey
	if m.Key != "" {
		key = audience.KeyFromSource(m.Key)
		k := binary.LittleEndian.Uint64(key[:8])
		data := c.dataHash(m)
		if c.dedup != nil {
			if c.dedup.maybeSeen(k) {
				c.dedup.hold(m, key, k, data)
				if len(c.dedup.held) >= c.dedup.limit {
					return c.settle()
				}
				return nil
			}
			if err := c.dedup.note(k, data); err != nil {
				return err
			}
			return c.accept(m, key)
		}
		if first, dup := c.keys[k]; dup {
			c.repeat(m, first == data)
			return nil
		}
		c.keys[k] = data
	}
	return c.accept(m, key)
}

// repeat counts a record whose key an earlier record had: a duplicate
// when same (the same data), else a conflict.
func (c *collector) repeat(m *audience.Member, same bool) {
	if same {
		c.src.Duplicates++
		c.tick()
	} else {
		c.count(ReasonKeyConflict, m.Line)
	}
}

// settle decides the records keyDedup held back.
func (c *collector) settle() error {
	if c.dedup == nil {
		return nil
	}
	return c.dedup.settle(c.accept, c.repeat)
}

// accept hands on a record that is the first of its key (or has none).
func (c *collector) accept(m *audience.Member, key audience.MemberKey) error {
	c.src.Valid++
	c.tick()
	c.chunk = append(c.chunk, sourced{Member: *m, key: key})
	if kept := &c.chunk[len(c.chunk)-1].Member; len(c.attrs) > 0 {
		c.keepAttrs(kept, m.Attrs)
	} else {
		kept.Attrs = nil // none asked for: never keep what the source reuses
	}
	if len(c.chunk) == chunkSize {
		return c.flush()
	}
	return nil
}

// keepAttrs copies a member's attribute values, which the source may
// reuse once Emit returns, into the chunk's arena, and counts them: a
// value of another type than the attribute's counts as invalid and is
// dropped, as is anything past the request's attributes; values the
// source left out are missing.
func (c *collector) keepAttrs(dst *audience.Member, from []audience.Value) {
	n := len(c.attrs)
	if c.arena == nil {
		c.arena = make([]audience.Value, chunkSize*n)
	}
	i := len(c.chunk) - 1
	own := c.arena[i*n : (i+1)*n : (i+1)*n]
	copy(own, from)
	counts := c.src.Attributes
	for j := range own {
		v := &own[j]
		switch {
		case v.Present() && v.Type() != c.attrs[j].Type:
			*v = audience.InvalidValue()
			counts[j].Invalid++
		case v.Present():
			counts[j].Present++
		case v.Invalid():
			counts[j].Invalid++
		default:
			counts[j].Missing++
		}
	}
	dst.Attrs = own
}

// dataHash summarises what a record says about its member, so that two
// records with one key can be compared without keeping either. It runs
// on the reader, once per record, before anything is handed to the
// workers, so it is kept cheap: each non-empty field is hashed on its own
// (most of a record's fields are empty) and folded in with its position,
// and only the attributes the request asks for are hashed.
func (c *collector) dataHash(m *audience.Member) uint64 {
	h := uint64(m.Consent.AdUserData)<<8 | uint64(m.Consent.AdPersonalization)
	for i := range m.Fields {
		if f := m.Fields[i]; f != "" {
			// The position goes into the top byte: the same text in
			// another field is other data.
			h = fold(h ^ maphash.String(c.seed, f) ^ uint64(i+1)<<56)
		}
	}
	// Two records of one key that differ only in an attribute conflict
	// too: the first one's attributes are the ones segmented on.
	for j, v := range m.Attrs[:min(len(m.Attrs), len(c.attrs))] {
		h = fold(h ^ maphash.Comparable(c.seed, v) ^ uint64(j+1)<<48)
	}
	return h
}

// fold mixes x into a well-spread value (the finaliser of SplitMix64, a
// bijection), so that folding the hashes of the fields in one by one
// leaves a sum in which any change shows.
func fold(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (c *collector) Reject(reason string, line int64) {
	c.src.Read++
	c.count(reason, line)
}

// count records a rejected record by reason, with its line among the first
// few of that reason.
func (c *collector) count(reason string, line int64) {
	c.src.Rejected[reason]++
	c.tick()
	// The first lines, whatever order they come in: a streaming plan's
	// collector settles some records after later ones (dedup.go).
	lines := c.src.RejectedLines[reason]
	if line > 0 && (len(lines) < report.SampleLines || line < lines[len(lines)-1]) {
		if c.src.RejectedLines == nil {
			c.src.RejectedLines = map[string][]int64{}
		}
		i, _ := slices.BinarySearch(lines, line)
		lines = slices.Insert(lines, i, line)
		c.src.RejectedLines[reason] = lines[:min(len(lines), report.SampleLines)]
		c.log.Warn("source record rejected", zap.String("reason", reason), zap.Int64("line", line))
	}
}

// tick sends SourceProgress every ProgressEvery records, once the record
// is counted: one comparison a record when no one is watching.
func (c *collector) tick() {
	if c.src.Read%ProgressEvery == 0 && c.ev.obs != nil { // Run always sets c.ev
		c.progress(false)
	}
}

// progress tells the observer how far the read is.
func (c *collector) progress(done bool) {
	var rejected int64
	for _, n := range c.src.Rejected {
		rejected += n
	}
	c.ev.send(SourceProgress{Run: c.ev.run, Read: c.src.Read, Valid: c.src.Valid, Duplicates: c.src.Duplicates,
		Rejected: rejected, Done: done})
}

func (c *collector) flush() error {
	if len(c.chunk) == 0 {
		return nil
	}
	if c.out != nil {
		if err := c.out.submit(c.ctx, c.chunk); err != nil {
			return err
		}
	}
	c.chunk = make([]sourced, 0, chunkSize)
	c.arena = nil     // the chunk handed on keeps its arena
	runtime.Gosched() // between chunks, as the prepare workers do
	return nil
}

func (c *collector) close() {
	if !c.closed {
		c.closed = true
		if c.out != nil {
			c.out.close()
		}
	}
}

// read streams the source through every destination's planner.
func (e *Engine) read(ctx context.Context, log *zap.Logger, ev *events, job *Job, plans []*plan, rep *report.Report) error {
	var active []*plan
	for _, p := range plans {
		if !p.failed {
			active = append(active, p)
		}
	}
	if len(active) == 0 {
		return errors.New("no destination is available: see the destination errors")
	}
	c := &collector{
		ctx:   ctx,
		src:   &rep.Source,
		keys:  make(map[uint64]uint64),
		seed:  maphash.MakeSeed(),
		chunk: make([]sourced, 0, chunkSize),
		ev:    ev,
		log:   log,
		attrs: job.Request.Attributes,
	}
	if len(c.attrs) > 0 {
		rep.Source.Attributes = make([]report.AttributeCount, len(c.attrs))
		for i, a := range c.attrs {
			rep.Source.Attributes[i].Name = a.Name
		}
	}
	if ev.on() {
		c.progress(false)
	}
	workers := e.PlanWorkers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var placing *placing
	for _, p := range active {
		if p.placing != nil {
			placing = p.placing
		}
	}
	c.out = startPipeline(active, placing, workers)
	if active[0].stream {
		c.dedup = newKeyDedup(active[0].srcs.dir, filterBits, heldLimit, seenRun)
		defer c.dedup.close()
	}
	err := job.Source.Read(ctx, job.Request, c)
	if err == nil {
		err = c.settle()
	}
	if err == nil {
		err = c.flush()
	}
	c.close()
	c.out.wait()
	if ev.on() {
		c.progress(true)
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	// Nothing declared is 0, which no read falls short of.
	if err == nil && rep.Source.Read < rep.Source.Declared {
		err = &ShortReadError{Declared: rep.Source.Declared, Read: rep.Source.Read}
	}
	if err != nil {
		return fmt.Errorf("read source: %w", err)
	}
	log.Info("source read", zap.Int64("read", rep.Source.Read), zap.Int64("valid", rep.Source.Valid),
		zap.Int64("duplicates", rep.Source.Duplicates), zap.Any("rejected", rep.Source.Rejected))
	return nil
}
