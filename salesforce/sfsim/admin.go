package sfsim

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// handleAdmin serves the emulator's own endpoints, outside Salesforce's
// paths: /_sfsim/faults (GET, POST/PUT, DELETE), /_sfsim/stats (GET),
// /_sfsim/refresh-tokens (POST) and /_sfsim/expire-sessions (POST).
func (s *Server) handleAdmin(w http.ResponseWriter, r *http.Request) {
	adminErr := func(status int, msg string) {
		writeJSON(w, status, nil, map[string]string{"error": msg})
	}
	switch r.URL.Path {
	case "/_sfsim/faults":
		switch r.Method {
		case http.MethodGet:
		case http.MethodPost, http.MethodPut:
			var f Faults
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err == nil {
				err = json.Unmarshal(body, &f)
			}
			if err != nil {
				adminErr(http.StatusBadRequest, "invalid JSON: "+err.Error())
				return
			}
			if err := s.SetFaultsChecked(f); err != nil {
				adminErr(http.StatusBadRequest, err.Error())
				return
			}
		case http.MethodDelete:
			s.SetFaults(Faults{})
		default:
			adminErr(http.StatusMethodNotAllowed, "use GET, POST, PUT or DELETE")
			return
		}
		s.mu.Lock()
		f, until := s.faults, s.outageUntil
		s.mu.Unlock()
		var outage any
		if !until.IsZero() {
			outage = until.UTC().Format(time.RFC3339)
		}
		writeJSON(w, http.StatusOK, nil, map[string]any{
			"error_rate": f.ErrorRate, "errors": f.Errors, "latency_ms": f.LatencyMS,
			"outage_seconds": f.OutageSeconds, "outage_until": outage,
		})
	case "/_sfsim/stats":
		if r.Method != http.MethodGet {
			adminErr(http.StatusMethodNotAllowed, "use GET")
			return
		}
		writeJSON(w, http.StatusOK, nil, s.Stats())
	case "/_sfsim/refresh-tokens":
		if r.Method != http.MethodPost {
			adminErr(http.StatusMethodNotAllowed, "use POST")
			return
		}
		writeJSON(w, http.StatusOK, nil, map[string]string{"refresh_token": s.IssueRefreshToken()})
	case "/_sfsim/expire-sessions":
		if r.Method != http.MethodPost {
			adminErr(http.StatusMethodNotAllowed, "use POST")
			return
		}
		s.ExpireSessions()
		w.WriteHeader(http.StatusNoContent)
	default:
		adminErr(http.StatusNotFound, "unknown admin endpoint")
	}
}
