package report

import (
	"errors"
	"fmt"
)

// Changes is how many members the plan would change: every planned add,
// remove, update and refresh (unchanged members are not changes).
func (p Planned) Changes() int64 { return p.Add + p.Remove + p.Update + p.Refresh }

// Done is how many planned changes were applied and committed.
func (a Applied) Done() int64 { return a.Added + a.Removed + a.Updated + a.Refreshed }

// Settled is how many planned changes were sent and ended either way:
// applied or failed.
func (a Applied) Settled() int64 { return a.Done() + a.Failed }

// CheckCounts checks the invariant of every destination's counts: for a
// run that was not a dry run, planned changes = applied + failed + not
// attempted, per kind where a kind settles alone (added ≤ add, removed ≤
// remove, updated ≤ update, refreshed ≤ refresh) and no count negative. A
// dry run sends nothing: its applied counts must all be zero. The error
// names each destination whose counts do not add up.
func (r *Report) CheckCounts() error {
	var errs []error
	for _, d := range r.Destinations {
		if err := d.checkCounts(r.DryRun); err != nil {
			errs = append(errs, fmt.Errorf("destination %s: %w", d.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (d *Destination) checkCounts(dryRun bool) error {
	p, a := d.Planned, d.Applied
	for _, n := range []int64{p.Add, p.Remove, p.Update, p.Refresh, p.Unchanged,
		a.Added, a.Removed, a.Updated, a.Refreshed, a.Failed, a.NotAttempted} {
		if n < 0 {
			return fmt.Errorf("negative count in planned %+v, applied %+v", p, a)
		}
	}
	if dryRun {
		if a != (Applied{}) {
			return fmt.Errorf("a dry run applied %+v", a)
		}
		return nil
	}
	if a.Added > p.Add || a.Removed > p.Remove || a.Updated > p.Update || a.Refreshed > p.Refresh {
		return fmt.Errorf("applied %+v exceeds planned %+v", a, p)
	}
	if got := a.Settled() + a.NotAttempted; got != p.Changes() {
		return fmt.Errorf("%d planned changes, but %d applied + %d failed + %d not attempted = %d",
			p.Changes(), a.Done(), a.Failed, a.NotAttempted, got)
	}
	return nil
}
