package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/dghubble/oauth1"
)

// XCredentials are the four OAuth 1.0a user-context credentials of an X
// developer app: the app's consumer key and secret, and the access token
// and secret of the user who manages the ad account. The X connector's
// settings inline them under these keys.
type XCredentials struct {
	ConsumerKey    Secret `yaml:"consumer_key"`
	ConsumerSecret Secret `yaml:"consumer_secret"`
	AccessToken    Secret `yaml:"access_token"`
	AccessSecret   Secret `yaml:"access_secret"`
}

// XSigner signs X Ads API requests with OAuth 1.0a (HMAC-SHA1, user
// context) through github.com/dghubble/oauth1. Every call to Sign draws a
// new nonce and timestamp, so a retried request signed again is never a
// replay. It is safe for concurrent use.
type XSigner struct {
	// oauth is the library's signing transport; its base only records the
	// signed header, so signing never sends anything.
	oauth *oauth1.Transport
}

// NewXSigner returns a signer for resolved credentials. It fails, naming
// what is missing, when any of the four is empty.
func NewXSigner(c XCredentials) (*XSigner, error) {
	var missing []string
	for _, f := range []struct {
		name string
		s    Secret
	}{
		{"consumer key", c.ConsumerKey}, {"consumer secret", c.ConsumerSecret},
		{"access token", c.AccessToken}, {"access token secret", c.AccessSecret},
	} {
		if f.s.Reveal() == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("x oauth: missing %v: copy all four keys from the app's Keys and tokens page in the X developer portal", missing)
	}
	cfg := oauth1.NewConfig(c.ConsumerKey.Reveal(), c.ConsumerSecret.Reveal())
	// The context only supplies a base transport, which is replaced below.
	client := cfg.Client(oauth1.NoContext, oauth1.NewToken(c.AccessToken.Reveal(), c.AccessSecret.Reveal()))
	t, ok := client.Transport.(*oauth1.Transport)
	if !ok {
		return nil, fmt.Errorf("x oauth: oauth1 client has transport %T, want *oauth1.Transport", client.Transport)
	}
	t.Base = headerRecorder{}
	return &XSigner{oauth: t}, nil
}

// Sign sets req's Authorization header to a fresh OAuth 1.0a signature
// over its method, URL, query and, for a form-encoded body, the form
// parameters (a JSON body is not part of the signature). A form body is
// read and put back.
func (s *XSigner) Sign(req *http.Request) error {
	probe := req.Clone(req.Context())
	probe.Header.Del("Authorization")
	if req.Body != nil && req.Body != http.NoBody && isForm(req.Header.Get("Content-Type")) {
		body, err := formBody(req)
		if err != nil {
			return fmt.Errorf("x oauth: read form body to sign it: %w", err)
		}
		probe.Body = io.NopCloser(bytes.NewReader(body))
		// oauth1 signs form parameters only under this exact media type.
		probe.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		probe.Body = nil
	}
	resp, err := s.oauth.RoundTrip(probe)
	if err != nil {
		return fmt.Errorf("x oauth: sign request: %w", err)
	}
	h := resp.Header.Get("Authorization")
	if h == "" {
		return errors.New("x oauth: sign request: no Authorization header was produced")
	}
	req.Header.Set("Authorization", h)
	return nil
}

// Transport returns a RoundTripper that signs every request it sends
// afresh, then hands it to base (http.DefaultTransport when nil). Placed
// under a retrying client it signs each attempt, the first included, at
// the moment it goes out, after any wait.
func (s *XSigner) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &signingTransport{signer: s, base: base}
}

type signingTransport struct {
	signer *XSigner
	base   http.RoundTripper
}

// RoundTrip signs a copy of req, as a RoundTripper must not modify the
// request it is given.
func (t *signingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	signed := req.Clone(req.Context())
	if err := t.signer.Sign(signed); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	// net/http resends a request by itself when a reused connection fails
	// before the answer, if it can: a GET, or a body it can rewind. That
	// resend would repeat this signature's nonce, which X refuses. A body
	// it cannot rewind makes it leave retries to the client above, which
	// signs afresh. (An empty body is still sent as none.)
	signed.GetBody = nil
	if signed.Body == nil || signed.Body == http.NoBody {
		signed.Body = io.NopCloser(bytes.NewReader(nil))
		signed.ContentLength = 0
	}
	return t.base.RoundTrip(signed)
}

// headerRecorder is the oauth1 transport's base: it answers with the
// Authorization header the library set, instead of sending the request.
type headerRecorder struct{}

func (headerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Authorization": r.Header.Values("Authorization")},
		Body:       http.NoBody,
		Request:    r,
	}, nil
}

func isForm(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// formBody returns req's form body, leaving req able to send it: from
// GetBody when the request can replay its body, else by reading it and
// putting a copy back.
func formBody(req *http.Request) ([]byte, error) {
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	body, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}
