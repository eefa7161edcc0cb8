package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/syncs"
)

// startWait is how long POST /syncs/{sync}/runs waits for the run to be
// recorded before it answers 202 without a run id ("queued": the daemon's
// concurrency cap holds it back).
const startWait = 10 * time.Second

// runRequest is the body of POST /syncs/{sync}/runs and /plan; all
// fields are optional, and an empty body is the zero value.
type runRequest struct {
	// FullRefresh re-sends every member.
	FullRefresh bool `json:"full_refresh"`
	// Force lets the run pass the removal guard (runs only).
	Force bool `json:"force"`
	// Wait answers when the run has ended, with its report, instead of
	// 202 as soon as it started (runs only).
	Wait bool `json:"wait"`
}

func decodeRunRequest(r *http.Request) (runRequest, error) {
	var req runRequest
	if err := readJSON(r, &req, 1<<16); err != nil {
		return req, problemBadRequest(fmt.Sprintf("the request body: %v; send a JSON object with full_refresh, force and wait (all optional)", err))
	}
	return req, nil
}

// runTarget reads the sync and the body of a run or plan request.
func (s *server) runTarget(r *http.Request) (*configs.Sync, runRequest, error) {
	sc, err := s.configured(r.PathValue("sync"))
	if err != nil {
		return nil, runRequest{}, err
	}
	req, err := decodeRunRequest(r)
	return sc, req, err
}

// outcome is how a triggered run ended.
type outcome struct {
	rep *report.Report
	err error
}

// triggerRun: POST /syncs/{sync}/runs. The run starts in the background,
// detached from the request. Without wait it answers 202 with the run id
// as soon as the run is recorded (Location: the run, to poll), or at once
// with the problem when it could not start (409 when the sync is running
// already); with wait it answers 200 with the report when the run ends.
func (s *server) triggerRun(w http.ResponseWriter, r *http.Request) error {
	sc, req, err := s.runTarget(r)
	if err != nil {
		return err
	}
	started := make(chan string, 1)
	obs := engine.ObserverFunc(func(ev engine.Event) {
		if rs, ok := ev.(engine.RunStarted); ok {
			select {
			case started <- rs.Run.ID:
			default:
			}
		}
	})
	done := make(chan outcome, 1)
	ctx := context.WithoutCancel(r.Context())
	go func() {
		rep, err := s.trigger(ctx, sc.Name, syncs.RunOptions{FullRefresh: req.FullRefresh, Force: req.Force, Observer: obs,
			StartedBy: callerOf(r.Context()).startedBy})
		if err != nil && rep == nil {
			s.log.Warn("API-triggered run did not start", zap.String("sync", sc.Name), zap.Error(err))
		}
		done <- outcome{rep, err}
	}()
	if req.Wait {
		return writeOutcome(w, <-done)
	}
	timer := time.NewTimer(startWait)
	defer timer.Stop()
	select {
	case id := <-started:
		return writeStarted(w, sc.Name, id)
	case o := <-done:
		// A run that was recorded has sent RunStarted before it ended.
		select {
		case id := <-started:
			return writeStarted(w, sc.Name, id)
		default:
		}
		return writeOutcome(w, o)
	case <-timer.C:
		return writeJSON(w, http.StatusAccepted, triggered{Sync: sc.Name, Status: "queued"})
	}
}

// trigger runs a sync through Options.Trigger, or the service.
func (s *server) trigger(ctx context.Context, name string, opts syncs.RunOptions) (*report.Report, error) {
	if s.opts.Trigger != nil {
		return s.opts.Trigger(ctx, name, opts)
	}
	return s.opts.Service.Run(ctx, name, opts)
}

func writeStarted(w http.ResponseWriter, sync, id string) error {
	out := triggered{RunID: id, Sync: sync, Status: string(report.StatusRunning)}
	out.Links = &struct {
		Run    string `json:"run"`
		Report string `json:"report"`
	}{Run: Prefix + "/runs/" + id, Report: Prefix + "/runs/" + id + "/report"}
	w.Header().Set("Location", out.Links.Run)
	return writeJSON(w, http.StatusAccepted, out)
}

// writeOutcome answers with the report of a run or plan that took place
// (whatever its status: the report says), or the problem that kept it
// from taking place.
func writeOutcome(w http.ResponseWriter, o outcome) error {
	if o.rep == nil {
		if o.err == nil {
			o.err = errors.New("the run returned no report")
		}
		return o.err
	}
	return writeJSON(w, http.StatusOK, o.rep)
}

// plan: POST /syncs/{sync}/plan, a dry run answered with its report.
// It runs under the request's context: a client that goes away stops it.
func (s *server) plan(w http.ResponseWriter, r *http.Request) error {
	sc, req, err := s.runTarget(r)
	if err != nil {
		return err
	}
	rep, err := s.opts.Service.Plan(r.Context(), sc.Name, syncs.RunOptions{FullRefresh: req.FullRefresh, StartedBy: callerOf(r.Context()).startedBy})
	return writeOutcome(w, outcome{rep, err})
}

// reload: POST /reload.
func (s *server) reload(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Reload == nil {
		return &problem{Type: "not-implemented", Title: "Not implemented", Status: http.StatusNotImplemented,
			Detail: "this server cannot reload its config; `audiencesync serve` can (or send it SIGHUP)"}
	}
	if err := s.opts.Reload(r.Context()); err != nil {
		return &problem{Type: "reload-rejected", Title: "Config rejected", Status: http.StatusUnprocessableEntity,
			Detail: "the config was not reloaded and the old one keeps running: " + err.Error()}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
