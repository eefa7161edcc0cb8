package api

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/state"
)

// EncodeCursor makes the cursor of a run listing's next page: the last
// listed run's start (unix microseconds) and id, base64url-encoded, opaque
// to clients. The web UI pages its run history with it too.
func EncodeCursor(c state.RunCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.Started.UnixMicro(), 10) + "." + c.ID))
}

// DecodeCursor reads a cursor EncodeCursor made.
func DecodeCursor(s string) (state.RunCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return state.RunCursor{}, err
	}
	at, id, ok := strings.Cut(string(raw), ".")
	micros, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return state.RunCursor{}, errors.New("malformed cursor")
	}
	return state.RunCursor{Started: time.UnixMicro(micros).UTC(), ID: id}, nil
}
