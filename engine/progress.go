package engine

// Progress starts progress indicators for long reads and uploads. The CLI
// gives a terminal bar; everything else leaves Engine.Progress nil.
type Progress interface {
	// Start begins a bar; total < 0 when the total is unknown.
	Start(label string, total int64) Bar
}

// Bar is one progress indicator. It must be safe for concurrent use.
type Bar interface {
	Add(n int64)
	Finish()
}
