// Package jsonstr writes JSON strings into request bodies the platform
// connectors build by hand (Google's ingest and remove requests, Meta's
// customer-file payloads, X's users operations), where encoding/json's
// reflection would cost more than the network.
package jsonstr

import "encoding/json"

// Append appends s to dst as a JSON string. A string of printable ASCII
// without '"' and '\\' (every hash, and nearly every clear value) is
// copied as is; any other goes through encoding/json, so escapes,
// invalid UTF-8 (replaced by U+FFFD) and U+2028/U+2029 are written as
// encoding/json writes them, '<', '>' and '&' escaped included. Either way
// encoding/json decodes the result to what it decodes json.Marshal(s) to.
//
// DEL (0x7f) counts as printable: JSON allows it unescaped and
// encoding/json writes it as is, and the replicas' fast-path decoders take
// it as a plain byte.
func Append(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s) // a Go string always marshals
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
