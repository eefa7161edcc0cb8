package engine

// SetPlanWorkers sets how many goroutines prepare members for a run.
func SetPlanWorkers(e *Engine, n int) { e.PlanWorkers = n }
