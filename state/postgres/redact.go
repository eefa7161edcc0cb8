package postgres

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Redact returns where dsn points, without its password and options:
// postgres://USER@HOST:PORT/DATABASE, for messages and logs. A DSN that
// does not parse is cut down by hand: the password of a URL's user
// information and any password=… pair are masked.
func Redact(dsn string) string {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return maskPasswords(dsn)
	}
	host := cfg.Host
	if !strings.HasPrefix(host, "/") {
		host = net.JoinHostPort(host, strconv.Itoa(int(cfg.Port)))
	} else {
		host = "[" + host + "]:" + strconv.Itoa(int(cfg.Port)) // a Unix socket's directory
	}
	return fmt.Sprintf("postgres://%s@%s/%s", cfg.User, host, cfg.Database)
}

// passwordPair finds password=VALUE in a key/value DSN or a URL's query.
var passwordPair = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)`)

// maskPasswords masks the passwords in a DSN that pgconn cannot parse.
func maskPasswords(dsn string) string {
	out := passwordPair.ReplaceAllString(dsn, "${1}xxxxx")
	if from, to, ok := urlPassword(out); ok {
		out = out[:from] + "xxxxx" + out[to:]
	}
	return out
}

// urlPassword finds the password of a URL's user information by hand
// (url.Parse refuses some DSNs pgconn also refuses): dsn[from:to].
func urlPassword(dsn string) (from, to int, ok bool) {
	i := strings.Index(dsn, "://")
	if i < 0 {
		return 0, 0, false
	}
	start := i + 3
	rest := dsn[start:]
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return 0, 0, false
	}
	colon := strings.Index(rest[:at], ":")
	if colon < 0 {
		return 0, 0, false
	}
	return start + colon + 1, start + at, true
}

// passwordOf returns the password dsn carries, or "" when it has none.
func passwordOf(dsn string) string {
	if cfg, err := pgconn.ParseConfig(dsn); err == nil {
		return cfg.Password
	}
	if from, to, ok := urlPassword(dsn); ok {
		if p, err := url.PathUnescape(dsn[from:to]); err == nil {
			return p
		}
		return dsn[from:to]
	}
	if m := passwordPair.FindStringSubmatch(dsn); m != nil {
		return strings.Trim(m[2], "'")
	}
	return ""
}

// scrubbed is an error whose message has secrets masked; it unwraps to
// the original so that errors.Is and errors.As keep working.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// scrub masks every non-empty secret in err's message (a password, and
// URL-escaped forms of it).
func scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			if strings.Contains(msg, form) {
				msg, changed = strings.ReplaceAll(msg, form, "xxxxx"), true
			}
		}
	}
	if !changed {
		return err
	}
	var already *scrubbed
	if errors.As(err, &already) && already == err {
		already.msg = msg
		return already
	}
	return &scrubbed{msg: msg, err: err}
}

// parseProblem is what is wrong with a DSN pgconn could not parse,
// without the DSN, which pgconn's message quotes (its own masking is best
// effort), and without the password.
func parseProblem(err error, secret string) string {
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, "`: "); ok && strings.HasPrefix(msg, "cannot parse `") {
		msg = after
	}
	return scrub(errors.New(msg), secret).Error()
}
