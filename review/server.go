package review

import (
	"context"
	"crypto/tls"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/store"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Server is the review UI. It is an http.Handler.
type Server struct {
	cfg     Config
	st      *store.Store
	deps    Deps
	log     *slog.Logger
	now     func() time.Time
	mux     *http.ServeMux
	routes  []route
	tmpl    *templates
	limiter *rateLimiter
	oidc    *oidcFlow
	secure  bool // cookies carry Secure (TLS, or an https OIDC redirect behind a proxy)
	// redactor strips PII from the labelled examples corrections leave behind.
	redactor *classify.Redactor

	mu        sync.Mutex
	userCount int
	countAt   time.Time
}

// route is one entry of the route table; tests walk it to prove every route
// needs authentication and the right role.
type route struct {
	method  string
	path    string // ServeMux pattern path
	role    Role   // minimum role; "" for public routes
	api     bool   // JSON
	handler func(w http.ResponseWriter, r *http.Request, id *identity)
}

// New builds the UI. A non-loopback address with neither a user in the
// store nor OIDC configured is refused: without a configured user, the UI
// listens on loopback only.
func New(cfg Config, st *store.Store, deps Deps, log *slog.Logger, now func() time.Time) (*Server, error) {
	cfg.SetDefaults()
	var errs []error
	for _, e := range cfg.Validate() {
		errs = append(errs, fmt.Errorf("review.%w", e))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	s := &Server{cfg: cfg, st: st, deps: deps, log: log, now: now, mux: http.NewServeMux(),
		limiter:  newRateLimiter(cfg.LoginRateLimit.Attempts, cfg.LoginRateLimit.Window, now),
		secure:   cfg.TLS.Enabled() || strings.HasPrefix(cfg.OIDC.RedirectURL, "https://") || (cfg.SecureCookies != nil && *cfg.SecureCookies),
		redactor: classify.NewRedactor(nil)}
	n, err := st.ReviewUserCount(context.Background())
	if err != nil {
		return nil, err
	}
	if n == 0 && !cfg.OIDC.Enabled() && !isLoopbackAddr(cfg.Addr) {
		return nil, fmt.Errorf("review.addr: %s is not a loopback address and no user is configured: without a configured user the UI listens on loopback only; "+
			"create one with `triage user add --role admin NAME`, configure review.oidc, or set review.addr to 127.0.0.1:PORT", cfg.Addr)
	}
	if cfg.SecureCookies != nil && !*cfg.SecureCookies && !cfg.TLS.Enabled() {
		s.secure = false // explicitly off (plain-HTTP tests of an https IdP setup)
	}
	if cfg.OIDC.Enabled() {
		s.oidc = newOIDCFlow(cfg.OIDC, now)
	}
	if s.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}
	s.routes = s.routeTable()
	static, _ := fs.Sub(assets, "static")
	fileServer := http.StripPrefix("/static/", http.FileServerFS(static))
	s.mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	}))
	s.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	s.mux.Handle("/", s.wrap(route{path: "/", role: RoleViewer, handler: func(w http.ResponseWriter, r *http.Request, id *identity) {
		s.fail(w, r, &httpError{code: http.StatusNotFound, msg: "not found"}, false)
	}}))
	return s, nil
}

// ServeHTTP serves the UI with its security headers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// No inline script or style anywhere, no remote loads: hostile email
	// content that slipped past the sanitiser still cannot run or phone home.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if s.cfg.TLS.Enabled() {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20) // forms are small; refuse floods
	}
	s.mux.ServeHTTP(w, r)
}

// Handler returns the server as an http.Handler (for mounting in another mux).
func (s *Server) Handler() http.Handler { return s }

// Addr is the configured listen address.
func (s *Server) Addr() string { return s.cfg.Addr }

// ListenAndServe serves until ctx is cancelled, then shuts down gracefully,
// letting requests in flight finish for up to 10 seconds. It also runs the
// periodic retraining when configured and a Retrainer is wired.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("review: listen on %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is ListenAndServe on an existing listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	scheme := "http"
	if s.cfg.TLS.Enabled() {
		scheme = "https"
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	n, _ := s.st.ReviewUserCount(ctx)
	if n == 0 && !s.cfg.OIDC.Enabled() {
		s.log.Warn("review UI: no user is configured, so it is open to anyone on this machine and listens on loopback only; add one with `triage user add --role admin NAME`",
			"url", scheme+"://"+ln.Addr().String())
	} else {
		s.log.Info("review UI listening", "url", scheme+"://"+ln.Addr().String())
	}
	go s.retrainLoop(ctx)
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLS.Enabled() {
			errc <- srv.ServeTLS(ln, s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("review: serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("review: shutdown: %w", err)
	}
	return nil
}

func (s *Server) retrainLoop(ctx context.Context) {
	if s.deps.Retrainer == nil || !s.cfg.RetrainEnabled() {
		return
	}
	t := time.NewTicker(s.cfg.RetrainInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.deps.Retrainer.Retrain(ctx); err != nil {
				s.log.Warn("scheduled retraining failed", "err", err)
			} else {
				s.log.Info("retrained the offline classifier from manager labels")
			}
		}
	}
}

// httpError is an error with the status code to answer with.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &httpError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, a...)}
}

var errUnavailable = &httpError{code: http.StatusServiceUnavailable, msg: "this feature is not available: it is not wired in this deployment"}

// fail answers with an error page or JSON; unexpected errors are logged, and
// only a generic message leaves the server.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error, api bool) {
	code, msg := http.StatusInternalServerError, "internal error"
	var he *httpError
	switch {
	case errors.As(err, &he):
		code, msg = he.code, he.msg
	case errors.Is(err, store.ErrNotFound):
		code, msg = http.StatusNotFound, "not found"
	case errors.Is(err, store.ErrStateConflict):
		code, msg = http.StatusConflict, "the message changed state meanwhile; reload and try again"
	default:
		s.log.Error("review request failed", "path", r.URL.Path, "err", err)
	}
	if api || wantsJSON(r) {
		writeJSON(w, code, map[string]any{"error": msg, "status": code})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_ = s.tmpl.render(w, "error", &page{Title: http.StatusText(code), Data: map[string]any{"Code": code, "Message": msg}})
}

func wantsJSON(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// wrap applies authentication, the role check and CSRF protection to a route.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.role == "" {
			rt.handler(w, r, nil)
			return
		}
		api := rt.api || wantsJSON(r)
		id, err := s.authenticate(w, r)
		if err != nil {
			s.fail(w, r, err, api)
			return
		}
		if id == nil {
			if api || r.Method != http.MethodGet {
				w.Header().Set("WWW-Authenticate", `Cookie realm="triage"`)
				s.fail(w, r, &httpError{code: http.StatusUnauthorized, msg: "sign in first"}, true)
				return
			}
			http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if !id.Role.Includes(rt.role) {
			s.fail(w, r, &httpError{code: http.StatusForbidden, msg: fmt.Sprintf("this needs the %s role; you are signed in as %s", rt.role, id.Role)}, api)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := s.checkCSRF(r, id); err != nil {
				s.fail(w, r, err, api)
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		rt.handler(w, r, id)
	})
}
