package cluster

import (
	"context"
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapHandler is a slog.Handler writing to a zap logger: River logs
// through slog, the rest of audiencesync through zap, and one stream
// (JSON in `serve`) should hold both.
type zapHandler struct {
	log    *zap.Logger
	fields []zap.Field
	group  string
}

// newSlog returns a slog logger writing to log.
func newSlog(log *zap.Logger) *slog.Logger { return slog.New(&zapHandler{log: log}) }

func zapLevel(l slog.Level) zapcore.Level {
	switch {
	case l >= slog.LevelError:
		return zapcore.ErrorLevel
	case l >= slog.LevelWarn:
		return zapcore.WarnLevel
	case l >= slog.LevelInfo:
		return zapcore.InfoLevel
	default:
		return zapcore.DebugLevel
	}
}

// Enabled is part of slog.Handler.
func (h *zapHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.log.Core().Enabled(zapLevel(l))
}

// Handle is part of slog.Handler.
func (h *zapHandler) Handle(_ context.Context, r slog.Record) error {
	fields := append([]zap.Field(nil), h.fields...)
	r.Attrs(func(a slog.Attr) bool {
		fields = append(fields, h.field(a))
		return true
	})
	if ce := h.log.Check(zapLevel(r.Level), r.Message); ce != nil {
		ce.Write(fields...)
	}
	return nil
}

func (h *zapHandler) field(a slog.Attr) zap.Field {
	key := a.Key
	if h.group != "" {
		key = h.group + "." + key
	}
	return zap.Any(key, a.Value.Resolve().Any())
}

// WithAttrs is part of slog.Handler.
func (h *zapHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := *h
	out.fields = append([]zap.Field(nil), h.fields...)
	for _, a := range attrs {
		out.fields = append(out.fields, h.field(a))
	}
	return &out
}

// WithGroup is part of slog.Handler.
func (h *zapHandler) WithGroup(name string) slog.Handler {
	out := *h
	if out.group != "" {
		name = out.group + "." + name
	}
	out.group = name
	return &out
}
