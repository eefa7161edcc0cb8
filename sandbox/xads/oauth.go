package xads

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/platform/x"
)

// percentEncode is RFC 3986 encoding as OAuth 1.0a (RFC 5849 3.6) wants
// it: everything but unreserved characters is %XX with uppercase hex.
func percentEncode(s string) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// parseAuthHeader reads `OAuth k="v", ...` into its decoded parameters.
func parseAuthHeader(h string) (map[string]string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "OAuth") {
		return nil, false
	}
	out := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, false
		}
		key, err1 := url.PathUnescape(k)
		val, err2 := url.PathUnescape(v[1 : len(v)-1])
		if err1 != nil || err2 != nil {
			return nil, false
		}
		out[key] = val
	}
	return out, true
}

// baseURI is RFC 5849 3.4.1.2: scheme and host lowercase, default port
// dropped, path without query.
func baseURI(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := strings.ToLower(r.Host)
	if h, port, ok := strings.Cut(host, ":"); ok && (port == "80" && scheme == "http" || port == "443" && scheme == "https") {
		host = h
	}
	return scheme + "://" + host + r.URL.EscapedPath()
}

// signatureBase builds the RFC 5849 3.4.1 base string from the request
// method, base URI, query, a form-encoded body (a JSON body is not
// signed) and the oauth_* parameters other than the signature.
func signatureBase(r *http.Request, form url.Values, oauth map[string]string) string {
	type pair struct{ k, v string }
	var pairs []pair
	add := func(k, v string) { pairs = append(pairs, pair{percentEncode(k), percentEncode(v)}) }
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			add(k, v)
		}
	}
	for k, vs := range form {
		for _, v := range vs {
			add(k, v)
		}
	}
	for k, v := range oauth {
		if k != "oauth_signature" && k != "realm" {
			add(k, v)
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.ToUpper(r.Method) + "&" + percentEncode(baseURI(r)) + "&" + percentEncode(strings.Join(parts, "&"))
}

// Sign returns the HMAC-SHA1 signature of a base string under the
// consumer and token secrets.
func sign(base, consumerSecret, tokenSecret string) []byte {
	mac := hmac.New(sha1.New, []byte(percentEncode(consumerSecret)+"&"+percentEncode(tokenSecret)))
	mac.Write([]byte(base))
	return mac.Sum(nil)
}

// verify checks the OAuth 1.0a user-context signature of a request whose
// form parameters (if any) are already parsed. It records the nonce.
func (s *Server) verify(r *http.Request, form url.Values) *apiError {
	oauth, ok := parseAuthHeader(r.Header.Get("Authorization"))
	if !ok {
		return unauthorized("This request is not properly authenticated: send an OAuth 1.0a Authorization header.")
	}
	for _, k := range []string{"oauth_consumer_key", "oauth_token", "oauth_signature_method", "oauth_timestamp", "oauth_nonce", "oauth_signature"} {
		if oauth[k] == "" {
			return unauthorized("This request is not properly authenticated: " + k + " is missing.")
		}
	}
	if v, ok := oauth["oauth_version"]; ok && v != "1.0" {
		return unauthorized("This request is not properly authenticated: oauth_version must be 1.0.")
	}
	if oauth["oauth_signature_method"] != "HMAC-SHA1" {
		return unauthorized("This request is not properly authenticated: only HMAC-SHA1 signatures are accepted.")
	}
	if oauth["oauth_consumer_key"] != x.ReplicaConsumerKey {
		return unauthorized("This request is not properly authenticated: unknown consumer key.")
	}
	tokenSecret := ""
	switch oauth["oauth_token"] {
	case x.ReplicaAccessToken:
		tokenSecret = x.ReplicaAccessSecret
	case x.ReplicaRevokedToken:
		return unauthorized("This request is not properly authenticated: the access token was revoked or has expired.")
	default:
		return unauthorized("This request is not properly authenticated: unknown access token.")
	}
	ts, err := strconv.ParseInt(oauth["oauth_timestamp"], 10, 64)
	if err != nil {
		return unauthorized("This request is not properly authenticated: oauth_timestamp is not a number.")
	}
	now := s.opts.Now()
	if skew := now.Sub(time.Unix(ts, 0)); skew > s.opts.MaxClockSkew || skew < -s.opts.MaxClockSkew {
		return unauthorized("Timestamp out of bounds: oauth_timestamp is " + skew.Round(time.Second).String() + " off the server clock.")
	}
	got, err := base64.StdEncoding.DecodeString(oauth["oauth_signature"])
	want := sign(signatureBase(r, form, oauth), x.ReplicaConsumerSecret, tokenSecret)
	if err != nil || !hmac.Equal(got, want) {
		return unauthorized("This request is not properly authenticated: the OAuth signature does not match the request.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, seen := range s.nonces {
		if now.Sub(seen) > 2*s.opts.MaxClockSkew {
			delete(s.nonces, n)
		}
	}
	nonce := oauth["oauth_consumer_key"] + "|" + oauth["oauth_token"] + "|" + oauth["oauth_nonce"]
	if _, used := s.nonces[nonce]; used {
		return unauthorized("This request is not properly authenticated: the oauth_nonce was already used; sign every request (and every retry) afresh.")
	}
	s.nonces[nonce] = now
	return nil
}
