package api

import (
	_ "embed"
	"net/http"
)

// openAPI is the API's OpenAPI 3 document.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the API's OpenAPI 3 document (JSON).
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

// serveOpenAPI serves the document; it needs no token, as it holds
// nothing but the API's shape.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}
