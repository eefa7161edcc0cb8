package engine

// SetPlanWorkers sets how many goroutines prepare members for a run.
func SetPlanWorkers(e *Engine, n int) { e.PlanWorkers = n }

// SetStreamedHook sets a function a streaming plan calls once it has
// merged the members read with state, before it closes its spill files.
func SetStreamedHook(e *Engine, fn func()) { e.streamed = fn }
