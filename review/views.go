package review

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/triage-dev/triage/classify"
	"github.com/triage-dev/triage/ingest"
	"github.com/triage-dev/triage/store"
)

// page is what every template receives.
type page struct {
	Title string
	Nav   string
	User  *identity
	CSRF  string
	Local bool
	Flash string
	Query url.Values
	Data  any
}

type templates struct{ pages map[string]*template.Template }

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04")
	},
	"pct":   func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"pct1":  func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
	"score": func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"clean": cleanText,
	"addr": func(a ingest.Address) string {
		if a.Name == "" {
			return a.Addr
		}
		return fmt.Sprintf("%s <%s>", a.Name, a.Addr)
	},
	"size": func(n int64) string {
		switch {
		case n >= 1<<20:
			return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
		case n >= 1<<10:
			return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
		}
		return fmt.Sprintf("%d B", n)
	},
	"has": func(list []string, s string) bool { return slices.Contains(list, s) },
	"roleAt": func(id *identity, r string) bool {
		return id != nil && id.Role.Includes(Role(r))
	},
	"qs": func(q url.Values, key, val string) string {
		c := url.Values{}
		for k, v := range q {
			c[k] = append([]string(nil), v...)
		}
		c.Set(key, val)
		return c.Encode()
	},
	"add": func(a, b int) int { return a + b },
	"sub": func(a, b int) int { return a - b },
}

func parseTemplates() (*templates, error) {
	t := &templates{pages: map[string]*template.Template{}}
	base, err := template.New("base.html").Funcs(funcs).ParseFS(assets, "templates/base.html")
	if err != nil {
		return nil, fmt.Errorf("review: parse templates: %w", err)
	}
	names, _ := fs.Glob(assets, "templates/*.html")
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "base" {
			continue
		}
		c, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := c.ParseFS(assets, n); err != nil {
			return nil, fmt.Errorf("review: parse %s: %w", n, err)
		}
		t.pages[name] = c
	}
	return t, nil
}

// render executes into a buffer first so a template error never leaves half a page.
func (t *templates) render(w io.Writer, name string, p *page) error {
	tm, ok := t.pages[name]
	if !ok {
		return fmt.Errorf("review: no template %q", name)
	}
	var buf bytes.Buffer
	if err := tm.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("review: render %s: %w", name, err)
	}
	_, err := buf.WriteTo(w)
	return err
}

// viewFunc loads a view's data; the same data is rendered as HTML or JSON.
type viewFunc func(r *http.Request, id *identity) (any, error)

// actionFunc performs a POST; it returns where to go next (HTML) and a flash code.
type actionFunc func(r *http.Request, id *identity) (next, flash string, result any, err error)

func (s *Server) routeTable() []route {
	var rs []route
	view := func(p, tmpl, nav, title string, role Role, v viewFunc) {
		rs = append(rs,
			route{method: "GET", path: p, role: role, handler: s.htmlView(tmpl, nav, title, v)},
			route{method: "GET", path: apiPath(p), role: role, api: true, handler: s.jsonView(v)})
	}
	action := func(p string, role Role, a actionFunc) {
		rs = append(rs,
			route{method: "POST", path: p, role: role, handler: s.doAction(a, false)},
			route{method: "POST", path: "/api" + p, role: role, api: true, handler: s.doAction(a, true)})
	}
	view("/{$}", "dashboard", "dashboard", "Dashboard", RoleViewer, s.dashboardView)
	view("/escalations", "escalations", "escalations", "Escalation queue", RoleViewer, s.escalationsView)
	view("/messages", "messages", "messages", "Messages", RoleViewer, s.messagesView)
	view("/messages/{id}", "message", "messages", "Message", RoleViewer, s.messageView)
	view("/corrections", "corrections", "corrections", "Corrections", RoleViewer, s.correctionsView)
	view("/gaps", "gaps", "gaps", "Knowledge gaps", RoleViewer, s.gapsView)
	view("/dead", "dead", "dead", "Dead letters", RoleViewer, s.deadView)
	view("/skipped", "skipped", "skipped", "Skipped", RoleViewer, s.skippedView)
	view("/audit", "audit", "audit", "Audit trail", RoleViewer, s.auditView)
	rs = append(rs,
		route{method: "GET", path: "/gaps.csv", role: RoleViewer, handler: s.gapsCSV},
		route{method: "GET", path: "/api/gaps.csv", role: RoleViewer, api: true, handler: s.gapsCSV},
		route{method: "GET", path: "/api/me", role: RoleViewer, api: true, handler: s.jsonView(s.meView)},
		route{method: "GET", path: "/messages/{id}/files/{part}", role: RoleViewer, handler: s.downloadFile},
		route{method: "POST", path: "/logout", role: RoleViewer, handler: s.logout},
		route{method: "POST", path: "/api/logout", role: RoleViewer, api: true, handler: s.logout},
		// Public: the sign-in pages.
		route{method: "GET", path: "/login", handler: s.loginPage},
		route{method: "POST", path: "/login", handler: s.loginPost},
		route{method: "POST", path: "/api/login", api: true, handler: s.apiLogin},
		route{method: "GET", path: "/auth/oidc/login", handler: s.oidcLogin},
		route{method: "GET", path: oidcCallbackPath, handler: s.oidcCallback},
	)
	action("/messages/{id}/approve", RoleManager, s.approve)
	action("/messages/{id}/correct", RoleManager, s.correct)
	action("/messages/{id}/contact", RoleManager, s.pickContact)
	action("/messages/{id}/reject-articles", RoleManager, s.rejectArticles)
	action("/messages/{id}/close", RoleManager, s.closeCase)
	action("/messages/{id}/reopen", RoleManager, s.reopenCase)
	action("/dead/{id}/replay", RoleAdmin, s.replayOne)
	action("/dead/replay", RoleAdmin, s.replayAll)
	action("/skipped/{id}/push", RoleAdmin, s.pushThrough)
	action("/corrections/retrain", RoleAdmin, s.retrain)
	return rs
}

func apiPath(p string) string {
	switch p {
	case "/{$}":
		return "/api/dashboard"
	}
	return "/api" + p
}

func (s *Server) basePage(r *http.Request, id *identity, nav, title string) *page {
	local, _ := s.localMode(r.Context())
	p := &page{Title: title, Nav: nav, User: id, Local: local, Query: r.URL.Query()}
	if id != nil {
		p.CSRF = id.CSRF
	}
	if msg, ok := flashes[r.URL.Query().Get("done")]; ok {
		p.Flash = msg
	}
	return p
}

func (s *Server) htmlView(tmpl, nav, title string, v viewFunc) func(http.ResponseWriter, *http.Request, *identity) {
	return func(w http.ResponseWriter, r *http.Request, id *identity) {
		data, err := v(r, id)
		if err != nil {
			s.fail(w, r, err, false)
			return
		}
		p := s.basePage(r, id, nav, title)
		p.Data = data
		if t, ok := data.(interface{ pageTitle() string }); ok {
			p.Title = t.pageTitle()
		}
		var buf bytes.Buffer
		if err := s.tmpl.render(&buf, tmpl, p); err != nil {
			s.fail(w, r, err, false)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = buf.WriteTo(w)
	}
}

func (s *Server) jsonView(v viewFunc) func(http.ResponseWriter, *http.Request, *identity) {
	return func(w http.ResponseWriter, r *http.Request, id *identity) {
		data, err := v(r, id)
		if err != nil {
			s.fail(w, r, err, true)
			return
		}
		writeJSON(w, http.StatusOK, data)
	}
}

var flashes = map[string]string{
	"approved":  "Classification approved.",
	"corrected": "Correction saved and sent to Salesforce.",
	"contact":   "Contact linked.",
	"rejected":  "Suggested articles rejected; recorded as a knowledge gap.",
	"closed":    "Case closed.",
	"reopened":  "Case reopened.",
	"replayed":  "Dead letters replayed.",
	"pushed":    "Message pushed through the pipeline again.",
	"retrained": "The offline classifier was retrained from manager labels.",
}

func (s *Server) doAction(a actionFunc, api bool) func(http.ResponseWriter, *http.Request, *identity) {
	return func(w http.ResponseWriter, r *http.Request, id *identity) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		next, flash, result, err := a(r, id)
		if err != nil {
			s.fail(w, r, err, api)
			return
		}
		if api {
			writeJSON(w, http.StatusOK, map[string]any{"ok": true, "message": flashes[flash], "result": result})
			return
		}
		sep := "?"
		if strings.Contains(next, "?") {
			sep = "&"
		}
		http.Redirect(w, r, next+sep+"done="+flash, http.StatusSeeOther)
	}
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, &httpError{code: http.StatusNotFound, msg: "not found"}
	}
	return id, nil
}

func intParam(q url.Values, key string, def, lo, hi int) int {
	n, err := strconv.Atoi(q.Get(key))
	if err != nil {
		return def
	}
	return min(max(n, lo), hi)
}

// ---- dashboard ----

type dashboardData struct {
	Days        int                      `json:"days"`
	Counts      store.Counts             `json:"counts"`
	Dead        int                      `json:"dead"`
	Skipped     int                      `json:"skipped"`
	Volume      []dayVolume              `json:"volume"`
	Categories  []string                 `json:"categories"`
	Automation  automation               `json:"automation"`
	Escalations []countRow               `json:"escalations_by_reason"`
	Confidence  []countRow               `json:"confidence_distribution"`
	API         *apiUsage                `json:"api_usage"`
	Charts      map[string]template.HTML `json:"-"`
}

type dayVolume struct {
	Day        string         `json:"day"`
	Total      int            `json:"total"`
	ByCategory map[string]int `json:"by_category"`
}

type automation struct {
	Final     int     `json:"final"`
	Automated int     `json:"automated"` // done without escalation
	Escalated int     `json:"escalated"`
	Skipped   int     `json:"skipped"`
	Dead      int     `json:"dead"`
	InFlight  int     `json:"in_flight"`
	Rate      float64 `json:"rate"` // automated / (done + dead)
}

type countRow struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

type apiUsage struct {
	Available bool    `json:"available"`
	Used      int64   `json:"used"`
	Max       int64   `json:"max"`
	Fraction  float64 `json:"fraction"`
	Error     string  `json:"error,omitempty"`
}

func (s *Server) dashboardView(r *http.Request, _ *identity) (any, error) {
	ctx := r.Context()
	days := intParam(r.URL.Query(), "days", 14, 1, 90)
	now := s.now().UTC()
	start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(days - 1))
	counts, err := s.st.Counts(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.st.ReviewStats(ctx, start)
	if err != nil {
		return nil, err
	}
	d := &dashboardData{Days: days, Counts: counts, Dead: counts.ByState[store.StateDead], Skipped: counts.ByState[store.StateSkipped],
		Charts: map[string]template.HTML{}}
	byDay := map[string]map[string]int{}
	cats := map[string]int{}
	reasons := map[string]int{}
	bins := make([]int, 10)
	for _, row := range rows {
		day := row.CreatedAt.Format("2006-01-02")
		if byDay[day] == nil {
			byDay[day] = map[string]int{}
		}
		cat := row.Category
		if !row.Classified {
			cat = ""
		}
		byDay[day][cat]++
		cats[cat]++
		if row.Escalate {
			reasons[row.EscalationReason]++
		}
		if row.Classified {
			bins[min(9, max(0, int(row.Confidence*10)))]++
		}
		switch row.State {
		case store.StateDone:
			if row.Escalate {
				d.Automation.Escalated++
			} else {
				d.Automation.Automated++
			}
		case store.StateSkipped:
			d.Automation.Skipped++
		case store.StateDead:
			d.Automation.Dead++
		default:
			d.Automation.InFlight++
		}
	}
	d.Automation.Final = d.Automation.Automated + d.Automation.Escalated + d.Automation.Skipped + d.Automation.Dead
	if n := d.Automation.Automated + d.Automation.Escalated + d.Automation.Dead; n > 0 {
		d.Automation.Rate = float64(d.Automation.Automated) / float64(n)
	}
	// Categories by volume, largest first, so the legend reads like a ranking.
	d.Categories = sortedKeys(cats)
	sort.SliceStable(d.Categories, func(i, j int) bool { return cats[d.Categories[i]] > cats[d.Categories[j]] })
	var xs []string
	for t := start; !t.After(now); t = t.AddDate(0, 0, 1) {
		day := t.Format("2006-01-02")
		xs = append(xs, day)
		v := dayVolume{Day: day, ByCategory: byDay[day]}
		for _, n := range byDay[day] {
			v.Total += n
		}
		if v.ByCategory == nil {
			v.ByCategory = map[string]int{}
		}
		d.Volume = append(d.Volume, v)
	}
	d.Charts["volume"] = stackedBars("Messages per day by category", xs, d.Categories, func(x, n string) int { return byDay[x][n] })
	for _, k := range sortedKeys(reasons) {
		d.Escalations = append(d.Escalations, countRow{Key: k, Count: reasons[k]})
	}
	sort.SliceStable(d.Escalations, func(i, j int) bool { return d.Escalations[i].Count > d.Escalations[j].Count })
	var rl []string
	var rv []float64
	for _, e := range d.Escalations {
		rl = append(rl, e.Key)
		rv = append(rv, float64(e.Count))
	}
	d.Charts["escalations"] = hbars("Escalations by reason", rl, rv, func(f float64) string { return strconv.Itoa(int(f)) })
	var binLabels []string
	for i, n := range bins {
		label := fmt.Sprintf("%.1f–%.1f", float64(i)/10, float64(i+1)/10)
		binLabels = append(binLabels, label)
		d.Confidence = append(d.Confidence, countRow{Key: label, Count: n})
	}
	d.Charts["confidence"] = histogram("Classification confidence", binLabels, bins)
	auto := d.Automation
	d.Charts["automation"] = hbars("Outcome of finished messages",
		[]string{"handled automatically", "escalated to a human", "skipped", "dead letters"},
		[]float64{float64(auto.Automated), float64(auto.Escalated), float64(auto.Skipped), float64(auto.Dead)},
		func(f float64) string { return strconv.Itoa(int(f)) })
	d.API = &apiUsage{}
	if s.deps.APIUsage != nil {
		d.API.Available = true
		used, limit, err := s.deps.APIUsage.APIUsage(ctx)
		if err != nil {
			s.log.Warn("review: API usage unavailable", "err", err)
			d.API.Error = "could not read the API usage"
		} else if limit <= 0 {
			d.API.Error = "Salesforce has not reported the API usage yet"
		} else {
			d.API.Used, d.API.Max = used, limit
			if limit > 0 {
				d.API.Fraction = float64(used) / float64(limit)
			}
			d.Charts["api"] = gauge("Salesforce API usage", used, limit)
		}
	}
	return d, nil
}

// ---- lists ----

type listData struct {
	Messages []store.MessageSummary `json:"messages"`
	Total    int                    `json:"total"`
	Page     int                    `json:"page"`
	PerPage  int                    `json:"per_page"`
	Reasons  []countRow             `json:"reasons,omitempty"`
	Choices  []string               `json:"-"` // escalation reasons for the queue's filter
	Filter   map[string]string      `json:"filter,omitempty"`
	States   []store.State          `json:"-"`
	CanAct   bool                   `json:"-"`
}

func (l *listData) Pages() int {
	if l.PerPage == 0 {
		return 1
	}
	return max(1, (l.Total+l.PerPage-1)/l.PerPage)
}

func (s *Server) list(r *http.Request, f store.MessageFilter) (*listData, error) {
	q := r.URL.Query()
	per := intParam(q, "per_page", 50, 1, 500)
	pg := intParam(q, "page", 1, 1, 1_000_000)
	f.Limit, f.Offset = per, (pg-1)*per
	msgs, total, err := s.st.ReviewMessages(r.Context(), f)
	if err != nil {
		return nil, err
	}
	for i := range msgs {
		msgs[i].Subject = cleanText(msgs[i].Subject)
		msgs[i].From = cleanText(msgs[i].From)
	}
	return &listData{Messages: msgs, Total: total, Page: pg, PerPage: per, States: store.AllStates}, nil
}

func (s *Server) escalationsView(r *http.Request, _ *identity) (any, error) {
	q := r.URL.Query()
	l, err := s.list(r, store.MessageFilter{Queue: true, Category: q.Get("category"), EscalationReason: q.Get("reason")})
	if err != nil {
		return nil, err
	}
	l.Filter = map[string]string{"category": q.Get("category"), "reason": q.Get("reason")}
	l.Choices = classify.EscalationReasons
	return l, nil
}

func (s *Server) messagesView(r *http.Request, _ *identity) (any, error) {
	q := r.URL.Query()
	f := store.MessageFilter{State: store.State(q.Get("state")), Reason: q.Get("reason"), Category: q.Get("category"), Query: q.Get("q")}
	if f.State != "" && !slices.Contains(store.AllStates, f.State) {
		return nil, badRequest("unknown state %q", f.State)
	}
	switch q.Get("escalated") {
	case "yes", "true", "1":
		t := true
		f.Escalated = &t
	case "no", "false", "0":
		v := false
		f.Escalated = &v
	}
	l, err := s.list(r, f)
	if err != nil {
		return nil, err
	}
	l.Filter = map[string]string{"state": string(f.State), "reason": f.Reason, "category": f.Category, "q": f.Query, "escalated": q.Get("escalated")}
	return l, nil
}

func (s *Server) finalList(r *http.Request, state store.State, id *identity) (any, error) {
	l, err := s.list(r, store.MessageFilter{State: state, Reason: r.URL.Query().Get("reason")})
	if err != nil {
		return nil, err
	}
	// Reason summary over all of them, not only this page.
	all, _, err := s.st.ReviewMessages(r.Context(), store.MessageFilter{State: state, Limit: 1000})
	if err != nil {
		return nil, err
	}
	rc := map[string]int{}
	for _, m := range all {
		rc[m.Reason]++
	}
	for _, k := range sortedKeys(rc) {
		l.Reasons = append(l.Reasons, countRow{Key: k, Count: rc[k]})
	}
	l.CanAct = id != nil && id.Role.Includes(RoleAdmin)
	return l, nil
}

func (s *Server) deadView(r *http.Request, id *identity) (any, error) {
	return s.finalList(r, store.StateDead, id)
}

func (s *Server) skippedView(r *http.Request, id *identity) (any, error) {
	return s.finalList(r, store.StateSkipped, id)
}

// ---- one message ----

type messageData struct {
	ID             int64                `json:"id"`
	Subject        string               `json:"subject"`
	From           string               `json:"from"`
	State          store.State          `json:"state"`
	Reason         string               `json:"reason,omitempty"`
	Attempts       int                  `json:"attempts"`
	LastError      string               `json:"last_error,omitempty"`
	Size           int64                `json:"size"`
	HeaderOnly     bool                 `json:"header_only"`
	MessageID      string               `json:"message_id"`
	CreatedAt      time.Time            `json:"created_at"`
	Parsed         *ingest.Parsed       `json:"parsed,omitempty"`
	SafeHTML       string               `json:"html_sanitized,omitempty"`
	Classification *classify.Result     `json:"classification,omitempty"`
	Contact        *contactView         `json:"contact,omitempty"`
	Knowledge      *knowledgeView       `json:"knowledge,omitempty"`
	Case           *caseView            `json:"case,omitempty"`
	Files          []fileView           `json:"files,omitempty"`
	Item           store.ReviewItem     `json:"review"`
	Labels         []store.ReviewLabel  `json:"labels,omitempty"`
	Events         []store.Event        `json:"events"`
	Actions        []store.ReviewAction `json:"actions,omitempty"`
	Available      map[string]bool      `json:"available"`
	Categories     []string             `json:"-"`
	Priorities     []string             `json:"-"`
	Reasons        []string             `json:"-"`
	ShowText       bool                 `json:"-"`
}

func (m *messageData) pageTitle() string {
	if m.Subject == "" {
		return fmt.Sprintf("Message %d", m.ID)
	}
	return m.Subject
}

// Body returns the sanitised HTML for the template; it went through bluemonday.
func (m *messageData) Body() template.HTML { return template.HTML(m.SafeHTML) } //nolint:gosec // sanitised

func (s *Server) categories() []string {
	if len(s.deps.Categories) > 0 {
		return s.deps.Categories
	}
	var out []string
	for _, c := range classify.DefaultTaxonomy() {
		out = append(out, c.Name)
	}
	return out
}

func (s *Server) loadMessage(r *http.Request) (*messageData, error) {
	ctx := r.Context()
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	m, err := s.st.Message(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &messageData{ID: m.ID, Subject: cleanText(m.Subject), From: cleanText(m.From), State: m.State, Reason: m.Reason,
		Attempts: m.Attempts, LastError: m.LastError, Size: m.Size, HeaderOnly: m.HeaderOnly, MessageID: m.MessageID, CreatedAt: m.CreatedAt,
		Categories: s.categories(), Priorities: classify.Priorities, Reasons: classify.EscalationReasons,
		ShowText: r.URL.Query().Get("view") == "text"}
	if len(m.Parsed) > 0 {
		var p ingest.Parsed
		if err := json.Unmarshal(m.Parsed, &p); err == nil {
			p.Subject = cleanText(p.Subject)
			p.From.Name = cleanText(p.From.Name)
			for i := range p.Attachments {
				p.Attachments[i].Filename = cleanText(p.Attachments[i].Filename)
			}
			d.Parsed = &p
			d.SafeHTML = sanitizeEmailHTML(p.HTML)
		}
	}
	var cr classify.Result
	if ok, err := s.st.StageData(ctx, id, "classify", &cr); err != nil {
		s.log.Warn("review: classify data unreadable", "message", id, "err", err)
	} else if ok {
		d.Classification = &cr
		if cr.Category != "" && !slices.Contains(d.Categories, cr.Category) {
			d.Categories = append(slices.Clone(d.Categories), cr.Category)
		}
	}
	var raw json.RawMessage
	if ok, _ := s.st.StageData(ctx, id, "dedupe", &raw); ok {
		d.Contact = decodeContact(raw)
	}
	raw = nil
	if ok, _ := s.st.StageData(ctx, id, "knowledge", &raw); ok {
		d.Knowledge = decodeKnowledge(raw)
	}
	raw = nil
	if ok, _ := s.st.StageData(ctx, id, "cases", &raw); ok {
		d.Case = decodeCase(raw)
		if d.Case.CaseID != "" && s.deps.SalesforceURL != nil {
			if u := s.deps.SalesforceURL(d.Case.CaseID); strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
				d.Case.URL = u
			}
		}
	}
	d.Files = s.messageFiles(ctx, id, d.Parsed, m.HeaderOnly)
	if d.Item, err = s.st.ReviewItem(ctx, id); err != nil {
		return nil, err
	}
	if d.Labels, err = s.st.ReviewLabelsOf(ctx, id); err != nil {
		return nil, err
	}
	if d.Events, err = s.st.Events(ctx, id); err != nil {
		return nil, err
	}
	d.Available = map[string]bool{
		"correct": s.deps.Corrector != nil, "contact": s.deps.ContactPicker != nil, "reject_articles": s.deps.ArticleRejecter != nil,
		"close": s.deps.CaseActions != nil, "reopen": s.deps.CaseActions != nil, "approve": d.Classification != nil,
	}
	return d, nil
}

func (s *Server) messageView(r *http.Request, _ *identity) (any, error) { return s.loadMessage(r) }

// ---- corrections ----

type accuracyBucket struct {
	Start              string  `json:"start"`
	Reviewed           int     `json:"reviewed"`
	Approved           int     `json:"approved"`
	Corrected          int     `json:"corrected"`
	CategoryAccuracy   float64 `json:"category_accuracy"`
	PriorityAccuracy   float64 `json:"priority_accuracy"`
	EscalationAccuracy float64 `json:"escalation_accuracy"`
}

type correctionsData struct {
	Buckets    []accuracyBucket    `json:"buckets"`
	Overall    accuracyBucket      `json:"overall"`
	Recent     []store.ReviewLabel `json:"recent"`
	CanRetrain bool                `json:"can_retrain"`
	Retrain    string              `json:"retrain_interval"`
	Chart      template.HTML       `json:"-"`
}

// accuracy compares each message's latest label with the AI's prediction.
func accuracy(labels []store.ReviewLabel, bucket func(time.Time) string) ([]accuracyBucket, accuracyBucket) {
	latest := map[int64]store.ReviewLabel{}
	for _, l := range labels {
		latest[l.MessageID] = l
	}
	type acc struct {
		b          accuracyBucket
		cat, pr, e int
	}
	by := map[string]*acc{}
	var all acc
	for _, l := range latest {
		k := bucket(l.At)
		a := by[k]
		if a == nil {
			a = &acc{b: accuracyBucket{Start: k}}
			by[k] = a
		}
		for _, x := range []*acc{a, &all} {
			x.b.Reviewed++
			if l.Kind == "approve" {
				x.b.Approved++
			} else {
				x.b.Corrected++
			}
			if l.Category == l.PredictedCategory {
				x.cat++
			}
			if l.Priority == l.PredictedPriority {
				x.pr++
			}
			if l.Escalate == l.PredictedEscalate {
				x.e++
			}
		}
	}
	fin := func(x *acc) accuracyBucket {
		if n := float64(x.b.Reviewed); n > 0 {
			x.b.CategoryAccuracy, x.b.PriorityAccuracy, x.b.EscalationAccuracy = float64(x.cat)/n, float64(x.pr)/n, float64(x.e)/n
		}
		return x.b
	}
	var out []accuracyBucket
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, fin(by[k]))
	}
	return out, fin(&all)
}

func weekStart(t time.Time) string {
	t = t.UTC()
	wd := (int(t.Weekday()) + 6) % 7 // Monday = 0
	return time.Date(t.Year(), t.Month(), t.Day()-wd, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
}

func (s *Server) correctionsView(r *http.Request, id *identity) (any, error) {
	labels, err := s.st.ReviewLabels(r.Context(), time.Time{})
	if err != nil {
		return nil, err
	}
	bucket := weekStart
	if r.URL.Query().Get("by") == "day" {
		bucket = func(t time.Time) string { return t.UTC().Format("2006-01-02") }
	}
	d := &correctionsData{CanRetrain: s.deps.Retrainer != nil && id.Role.Includes(RoleAdmin)}
	if s.cfg.RetrainEnabled() {
		d.Retrain = humanDuration(s.cfg.RetrainInterval)
	}
	d.Buckets, d.Overall = accuracy(labels, bucket)
	for i := len(labels) - 1; i >= 0 && len(d.Recent) < 50; i-- {
		d.Recent = append(d.Recent, labels[i])
	}
	var xs []string
	vals := make([][]float64, 3)
	for _, b := range d.Buckets {
		xs = append(xs, b.Start)
		vals[0] = append(vals[0], b.CategoryAccuracy)
		vals[1] = append(vals[1], b.PriorityAccuracy)
		vals[2] = append(vals[2], b.EscalationAccuracy)
	}
	d.Chart = lineChart("Accuracy against manager review", xs, []string{"category", "priority", "escalation"}, vals)
	return d, nil
}

// ---- knowledge gaps ----

type gapsData struct {
	Available bool              `json:"available"`
	Since     time.Time         `json:"since"`
	Days      int               `json:"days"`
	Topics    []GapTopic        `json:"topics"`
	Rejected  []RejectedArticle `json:"rejected_articles"`
}

func (s *Server) gapsSince(r *http.Request) (time.Time, int) {
	days := intParam(r.URL.Query(), "days", 30, 1, 3650)
	return s.now().Add(-time.Duration(days) * 24 * time.Hour), days
}

func (s *Server) gapsView(r *http.Request, _ *identity) (any, error) {
	since, days := s.gapsSince(r)
	d := &gapsData{Available: s.deps.GapReporter != nil, Since: since, Days: days}
	if !d.Available {
		return d, nil
	}
	var err error
	if d.Topics, err = s.deps.GapReporter.GapTopics(r.Context(), since); err != nil {
		return nil, fmt.Errorf("gap report: %w", err)
	}
	if d.Rejected, err = s.deps.GapReporter.RejectedArticles(r.Context(), since); err != nil {
		return nil, fmt.Errorf("rejected articles: %w", err)
	}
	for i := range d.Topics {
		d.Topics[i].Topic = cleanText(d.Topics[i].Topic)
		for j := range d.Topics[i].Examples {
			d.Topics[i].Examples[j].Subject = cleanText(d.Topics[i].Examples[j].Subject)
		}
	}
	return d, nil
}

func (s *Server) gapsCSV(w http.ResponseWriter, r *http.Request, _ *identity) {
	if s.deps.GapReporter == nil {
		s.fail(w, r, errUnavailable, wantsJSON(r))
		return
	}
	since, _ := s.gapsSince(r)
	var buf bytes.Buffer
	if err := s.deps.GapReporter.WriteGapCSV(r.Context(), &buf, since); err != nil {
		s.fail(w, r, fmt.Errorf("gap report: %w", err), wantsJSON(r))
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="knowledge-gaps-%s.csv"`, s.now().UTC().Format("2006-01-02")))
	_, _ = buf.WriteTo(w)
}

// ---- audit ----

type auditData struct {
	Tab        string               `json:"tab"`
	Actions    []store.ReviewAction `json:"ui_actions,omitempty"`
	Events     []store.Event        `json:"events,omitempty"`
	Salesforce []AuditEntry         `json:"salesforce,omitempty"`
	SFAvail    bool                 `json:"salesforce_available"`
	Page       int                  `json:"page"`
	PerPage    int                  `json:"per_page"`
}

func (s *Server) auditView(r *http.Request, _ *identity) (any, error) {
	ctx := r.Context()
	q := r.URL.Query()
	per := intParam(q, "per_page", 100, 1, 1000)
	pg := intParam(q, "page", 1, 1, 1_000_000)
	msgID, _ := strconv.ParseInt(q.Get("message"), 10, 64)
	d := &auditData{Tab: q.Get("tab"), SFAvail: s.deps.AuditReader != nil, Page: pg, PerPage: per}
	var err error
	switch d.Tab {
	case "events":
		d.Events, err = s.st.AllEvents(ctx, store.EventFilter{MessageID: msgID, Stage: q.Get("stage"), Kind: q.Get("kind"), Limit: per, Offset: (pg - 1) * per})
		for i := range d.Events {
			d.Events[i].Detail = cleanText(d.Events[i].Detail)
		}
	case "salesforce":
		if s.deps.AuditReader != nil {
			d.Salesforce, err = s.deps.AuditReader.Audit(ctx, AuditQuery{MessageID: msgID, Limit: per})
		}
	default:
		d.Tab = "ui"
		d.Actions, err = s.st.ReviewActions(ctx, store.ReviewActionFilter{Actor: q.Get("actor"), Action: q.Get("action"), MessageID: msgID, Limit: per, Offset: (pg - 1) * per})
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (s *Server) meView(_ *http.Request, id *identity) (any, error) {
	return map[string]any{"name": id.Name, "role": id.Role, "source": id.Source, "csrf_token": id.CSRF}, nil
}

// humanDuration prints 24h as "24h" and 90m as "1h30m" (not "24h0m0s").
func humanDuration(d time.Duration) string {
	out := d.Round(time.Second).String()
	for _, z := range []string{"m0s", "h0m"} {
		if strings.HasSuffix(out, z) {
			out = strings.TrimSuffix(out, z[1:])
		}
	}
	return out
}
