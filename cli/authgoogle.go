package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/audiencesync/audiencesync/auth"
)

// authGoogleCmd is `audiencesync auth` with its `google` subcommand: the
// OAuth installed-app flow that yields a refresh token for a google_ads
// connection.
func (a *app) authGoogleCmd() *cobra.Command {
	var (
		clientID, clientSecret string
		port                   int
		timeout                time.Duration
		authURL, tokenURL      string
	)
	cmd := &cobra.Command{
		Use:   "google --client-id ID --client-secret SECRET",
		Short: "Authorize audiencesync for Google Ads Customer Match and print a refresh token",
		Long: `google runs Google's OAuth flow for installed apps. It listens on 127.0.0.1,
prints a consent URL to open in a browser, and once you approve it prints a
refresh token on standard output. Store that token as a secret and reference
it from the google_ads connection together with the OAuth client:

    audiencesync auth google --client-id ID --client-secret SECRET > google-refresh-token

    client_id: ${env:GOOGLE_CLIENT_ID}
    client_secret: ${env:GOOGLE_CLIENT_SECRET}
    refresh_token: ${file:./google-refresh-token}

The OAuth client must be a "Desktop app" client from the Google Cloud console
(APIs & Services > Credentials) in a project with the Data Manager API
enabled. The id and secret may also come from GOOGLE_CLIENT_ID and
GOOGLE_CLIENT_SECRET.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if clientID == "" {
				clientID, _ = a.lookupEnv("GOOGLE_CLIENT_ID")
			}
			if clientSecret == "" {
				clientSecret, _ = a.lookupEnv("GOOGLE_CLIENT_SECRET")
			}
			if clientID == "" || clientSecret == "" {
				return withCode(ExitUsage, errors.New("--client-id and --client-secret are required (or GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET): create a Desktop app OAuth client in the Google Cloud console, APIs & Services > Credentials"))
			}
			if port < 0 || port > 65535 {
				return withCode(ExitUsage, fmt.Errorf("--port %d: use 0 for any free port, or 1-65535", port))
			}
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				return withCode(ExitFailed, fmt.Errorf("listen for the OAuth redirect on 127.0.0.1:%d: %w (choose another --port, or 0 for any)", port, err))
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			flow := auth.GoogleLoopbackFlow{ClientID: clientID, ClientSecret: clientSecret, AuthURL: authURL, TokenURL: tokenURL}
			tok, err := flow.Run(ctx, ln, func(consent string) {
				fmt.Fprintf(a.stderr, "Open this URL in a browser on this machine and approve access:\n\n  %s\n\nWaiting for the browser to return to %s (up to %s)...\n",
					consent, ln.Addr(), timeout)
			})
			if err != nil {
				return withCode(ExitFailed, fmt.Errorf("google authorization: %w", err))
			}
			fmt.Fprintln(a.stdout, tok.RefreshToken)
			fmt.Fprint(a.stderr, `
Authorized. The refresh token is on standard output. Keep it secret: store it
in a file only you can read (or a secret manager) and reference it from the
google_ads connection, with the same OAuth client:

    client_id: ${env:GOOGLE_CLIENT_ID}
    client_secret: ${env:GOOGLE_CLIENT_SECRET}
    refresh_token: ${file:./google-refresh-token}
`)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&clientID, "client-id", "", "OAuth client id of a Desktop app client (env GOOGLE_CLIENT_ID)")
	f.StringVar(&clientSecret, "client-secret", "", "OAuth client secret (env GOOGLE_CLIENT_SECRET)")
	f.IntVar(&port, "port", 0, "loopback port for the redirect; 0 picks a free one")
	f.DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the browser")
	f.StringVar(&authURL, "auth-url", "", "OAuth authorization endpoint (tests)")
	f.StringVar(&tokenURL, "token-url", "", "OAuth token endpoint (tests)")
	_ = f.MarkHidden("auth-url")
	_ = f.MarkHidden("token-url")
	return group("auth", "Obtain platform credentials to store as secrets", cmd)
}
