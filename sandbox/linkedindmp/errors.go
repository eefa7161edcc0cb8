package linkedindmp

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// apiError is LinkedIn's error body: the HTTP status again, a numeric
// serviceErrorCode (0 when LinkedIn sends none), a code and a message.
type apiError struct {
	Status           int    `json:"status"`
	ServiceErrorCode int    `json:"serviceErrorCode,omitempty"`
	Code             string `json:"code,omitempty"`
	Message          string `json:"message"`
}

func newError(status, serviceCode int, code, msg string) *apiError {
	return &apiError{Status: status, ServiceErrorCode: serviceCode, Code: code, Message: msg}
}

func unauthorized(serviceCode int, code, msg string) *apiError {
	return newError(http.StatusUnauthorized, serviceCode, code, msg)
}

func invalid(msg string) *apiError {
	return newError(http.StatusUnprocessableEntity, 100, "INVALID_VALUE", msg)
}

func notFound(msg string) *apiError {
	return newError(http.StatusNotFound, 0, "NOT_FOUND", msg)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("X-Restli-Protocol-Version", "2.0.0")
	w.Header().Set("X-Li-Uuid", requestID())
	wire.WriteJSON(w, status, "application/json", v)
}

// requestID is the id LinkedIn gives every answer (x-li-uuid).
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}
