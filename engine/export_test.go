package engine

// SetPlanWorkers sets how many goroutines prepare members per destination.
func SetPlanWorkers(e *Engine, n int) { e.PlanWorkers = n }
