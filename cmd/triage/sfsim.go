package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/triage-dev/triage/salesforce/sfsim"
)

// runSfsim serves the Salesforce emulator on a loopback address:
//
//	triage sfsim --addr 127.0.0.1:PORT --client-id ID --client-secret SECRET
//	  [--jwt-cert FILE] [--data FILE] [--seed demo|empty] [--page-size N]
//	  [--daily-api-limit N] [--session-lifetime D] [--least-privilege]
//	  [--fault-rate R --fault-errors LIST --fault-latency D]
//
// The secret may come from $SFSIM_CLIENT_SECRET instead of the command line
// (where other local users could read it in the process list).
func runSfsim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sfsim", stderr)
	addr := fs.String("addr", "127.0.0.1:8780", "loopback `host:port` to listen on")
	clientID := fs.String("client-id", "", "connected app consumer key (required)")
	clientSecret := fs.String("client-secret", "", "connected app consumer secret (default $SFSIM_CLIENT_SECRET)")
	jwtCert := fs.String("jwt-cert", "", "PEM `file` with the certificate (or public key) that verifies JWT bearer assertions")
	username := fs.String("username", "integration@triage.example", "integration user name (the JWT sub)")
	dataFile := fs.String("data", "", "persist the org to this JSON `file` (loaded at start if it exists)")
	seed := fs.String("seed", "empty", "initial org when --data does not exist yet: demo or empty")
	pageSize := fs.Int("page-size", 2000, "query batch size (records per page before nextRecordsUrl)")
	dailyLimit := fs.Int("daily-api-limit", 15000, "DailyApiRequests allocation; past it calls get 403 REQUEST_LIMIT_EXCEEDED")
	lifetime := fs.Duration("session-lifetime", 2*time.Hour, "access token lifetime; expired tokens get 401 INVALID_SESSION_ID")
	rotate := fs.Bool("rotate-refresh-tokens", false, "return a new refresh token on every refresh and revoke the old one")
	refreshToken := fs.String("refresh-token", "", "accept this refresh token, as if issued by a web server flow (default $SFSIM_REFRESH_TOKEN; more from POST /_sfsim/refresh-tokens)")
	leastPrivilege := fs.Bool("least-privilege", false, "limit the API user to what the Triage_Integration permission set grants")
	faultRate := fs.Float64("fault-rate", 0, "share of data API calls (0..1) answered with an injected fault")
	faultErrors := fs.String("fault-errors", "SERVER_UNAVAILABLE", "comma-separated faults to inject: "+strings.Join(sfsim.FaultKinds, ", "))
	latency := fs.Duration("fault-latency", 0, "added latency per call")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *clientSecret == "" {
		*clientSecret = os.Getenv("SFSIM_CLIENT_SECRET")
	}
	if *refreshToken == "" {
		*refreshToken = os.Getenv("SFSIM_REFRESH_TOKEN")
	}
	if *clientID == "" || *clientSecret == "" {
		return usageError{"sfsim: --client-id and --client-secret (or $SFSIM_CLIENT_SECRET) are required"}
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return usageError{fmt.Sprintf("sfsim: --addr %q: %v", *addr, err)}
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usageError{fmt.Sprintf("sfsim: --addr %q: the emulator serves plain HTTP and only listens on loopback (127.0.0.1, ::1, localhost)", *addr)}
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	opts := sfsim.Options{
		ClientID: *clientID, ClientSecret: *clientSecret, Username: *username,
		Seed: *seed, DataFile: *dataFile, PageSize: *pageSize, DailyAPILimit: *dailyLimit,
		SessionLifetime: *lifetime, RotateRefreshTokens: *rotate, Logger: logger,
		EnforcePermissionSet: *leastPrivilege,
	}
	if *refreshToken != "" {
		opts.RefreshTokens = []string{*refreshToken}
	}
	if *faultRate > 0 || *latency > 0 {
		opts.Faults = sfsim.Faults{ErrorRate: *faultRate, LatencyMS: int(latency.Milliseconds())}
		for _, e := range strings.Split(*faultErrors, ",") {
			if e = strings.TrimSpace(e); e != "" {
				opts.Faults.Errors = append(opts.Faults.Errors, e)
			}
		}
	}
	if *jwtCert != "" {
		raw, err := os.ReadFile(*jwtCert)
		if err != nil {
			return fmt.Errorf("sfsim: --jwt-cert: %w", err)
		}
		block, _ := pem.Decode(raw)
		if block == nil {
			return fmt.Errorf("sfsim: --jwt-cert %s: no PEM block", *jwtCert)
		}
		switch block.Type {
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return fmt.Errorf("sfsim: --jwt-cert %s: %w", *jwtCert, err)
			}
			opts.JWTCert = cert
		case "PUBLIC KEY":
			key, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return fmt.Errorf("sfsim: --jwt-cert %s: %w", *jwtCert, err)
			}
			opts.JWTPublicKey = key
		default:
			return fmt.Errorf("sfsim: --jwt-cert %s: want a CERTIFICATE or PUBLIC KEY PEM block, got %s", *jwtCert, block.Type)
		}
	}
	org, err := sfsim.New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("sfsim: %w", err)
	}
	srv := &http.Server{Handler: org, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	fmt.Fprintf(stdout, "sfsim: Salesforce emulator listening on http://%s (login URL and instance URL)\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("sfsim: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("sfsim: shutdown", "err", err)
	}
	if err := org.Save(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "sfsim: stopped")
	return nil
}
