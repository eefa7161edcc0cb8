package api

// Route is one registered endpoint, for the tests that hold the OpenAPI
// document to the handlers.
type Route struct{ Method, Path, Role string }

// Routes lists the registered endpoints, the OpenAPI document's own
// included.
func Routes() []Route {
	out := []Route{{"GET", Prefix + openAPIPath, ""}}
	for _, rt := range routes {
		out = append(out, Route{rt.method, Prefix + rt.path, rt.role.String()})
	}
	return out
}
