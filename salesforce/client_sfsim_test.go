package salesforce_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/salesforce/sfsim"
)

const (
	simClientID     = "3MVG9sim"
	simClientSecret = "sim-secret"
)

// startSim serves an emulated org over real HTTP on loopback.
func startSim(t *testing.T, opts sfsim.Options) (*sfsim.Server, string) {
	t.Helper()
	opts.ClientID, opts.ClientSecret = simClientID, simClientSecret
	org, err := sfsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	return org, srv.URL
}

func ccConfig(url string) salesforce.Config {
	return salesforce.Config{LoginURL: url, Auth: salesforce.AuthConfig{Flow: salesforce.FlowClientCredentials, ClientID: simClientID, ClientSecret: simClientSecret}}
}

func newSimClient(t *testing.T, cfg salesforce.Config, opts ...salesforce.Option) *salesforce.Client {
	t.Helper()
	c, err := salesforce.New(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSimCRUDUpsertQueryPagination(t *testing.T) {
	org, url := startSim(t, sfsim.Options{PageSize: 2})
	c := newSimClient(t, ccConfig(url))
	ctx := context.Background()

	var ids []string
	for i := range 5 {
		id, err := c.Create(ctx, "Account", map[string]any{"Name": fmt.Sprintf("Sim Account %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	var accts []struct {
		ID   string `json:"Id"`
		Name string
	}
	soql := salesforce.MustBuildSOQL("SELECT Id, Name FROM Account WHERE Name LIKE " + salesforce.LikePrefix("Sim Account") + " ORDER BY Name")
	before := org.Stats().APICalls
	if err := c.Query(ctx, soql, &accts); err != nil {
		t.Fatal(err)
	}
	if len(accts) != 5 || accts[0].Name != "Sim Account 0" || accts[4].Name != "Sim Account 4" {
		t.Fatalf("query = %+v", accts)
	}
	if pages := org.Stats().APICalls - before; pages < 3 {
		t.Errorf("query used %d calls, want 3 pages", pages)
	}

	var got struct{ Name string }
	if err := c.Get(ctx, "Account", ids[2], []string{"Name"}, &got); err != nil || got.Name != "Sim Account 2" {
		t.Errorf("get = %+v, %v", got, err)
	}
	if err := c.Update(ctx, "Account", ids[2], map[string]any{"Name": "Renamed"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "Account", ids[3]); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, "Account", ids[3], nil, &got); !salesforce.IsNotFound(err) {
		t.Errorf("get deleted = %v, want 404", err)
	}

	first, err := c.Upsert(ctx, "Case", "Triage_Key__c", "thr-sim-1", map[string]any{"Subject": "Printer on fire", "Origin": "Email"})
	if err != nil || !first.Created || first.ID == "" {
		t.Fatalf("first upsert = %+v, %v", first, err)
	}
	second, err := c.Upsert(ctx, "Case", "Triage_Key__c", "thr-sim-1", map[string]any{"Subject": "Printer still on fire"})
	if err != nil || second.Created || second.ID != first.ID {
		t.Fatalf("second upsert = %+v, %v (want update of %s)", second, err, first.ID)
	}
	d, err := c.Describe(ctx, "Case")
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := d.Field("Triage_Key__c"); !ok || !f.ExternalID {
		t.Errorf("describe Triage_Key__c = %+v", f)
	}
	l, err := c.Limits(ctx)
	if err != nil || l["DailyApiRequests"].Max == 0 {
		t.Errorf("limits = %v, %v", l["DailyApiRequests"], err)
	}
	if b := c.Budget(); b.Max == 0 || b.Used == 0 {
		t.Errorf("budget not read from Sforce-Limit-Info: %+v", b)
	}
}

func TestSimCompositeWithReferences(t *testing.T) {
	org, url := startSim(t, sfsim.Options{})
	c := newSimClient(t, ccConfig(url))
	req := salesforce.NewComposite(true)
	acc := req.Create("acc", "Account", map[string]any{"Name": "Composite Co"})
	con := req.Create("con", "Contact", map[string]any{"LastName": "Ng", "Email": "ng@composite.example", "AccountId": acc.ID()})
	cs := req.Upsert("cs", "Case", "Triage_Key__c", "thr-comp-1", map[string]any{"Subject": "Hello", "ContactId": con.ID(), "AccountId": acc.ID()})
	req.Get("num", "Case", cs.ID(), "CaseNumber")
	before := org.Stats().APICalls
	resp, err := c.Composite(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if n := org.Stats().APICalls - before; n != 1 {
		t.Errorf("composite counted %d API calls, want 1", n)
	}
	sub, _ := resp.Get(cs)
	sr, err := sub.SaveResult()
	if err != nil || !sr.Created || sr.ID == "" {
		t.Errorf("case = %+v, %v", sr, err)
	}
	cases := org.Records("Case")
	if len(cases) != 1 || cases[0]["ContactId"] == nil || cases[0]["ContactId"] == "" {
		t.Errorf("case record = %v", cases)
	}

	// allOrNone rollback: a bad subrequest halts the good one.
	bad := salesforce.NewComposite(true)
	bad.Create("ok", "Account", map[string]any{"Name": "Never Saved"})
	bad.Create("ko", "Contact", map[string]any{"FirstName": "NoLastName"})
	_, err = c.Composite(context.Background(), bad)
	var ce *salesforce.CompositeError
	if !errors.As(err, &ce) || !ce.Permanent() {
		t.Fatalf("err = %v, want permanent *CompositeError", err)
	}
	if !salesforce.HasErrorCode(err, "REQUIRED_FIELD_MISSING") {
		t.Errorf("root cause = %v", err)
	}
	halted := false
	for _, f := range ce.Failures {
		halted = halted || f.HasCode("PROCESSING_HALTED")
	}
	if !halted {
		t.Errorf("no PROCESSING_HALTED among %v", ce.Failures)
	}
	for _, a := range org.Records("Account") {
		if a["Name"] == "Never Saved" {
			t.Error("allOrNone did not roll back")
		}
	}
}

func TestSimSessionExpiryRefreshAndRotation(t *testing.T) {
	org, url := startSim(t, sfsim.Options{RotateRefreshTokens: true})
	rt := org.IssueRefreshToken()
	var mu sync.Mutex
	var rotated []string
	cfg := salesforce.Config{LoginURL: url, Auth: salesforce.AuthConfig{Flow: salesforce.FlowRefreshToken, ClientID: simClientID, ClientSecret: simClientSecret, RefreshToken: rt}}
	c := newSimClient(t, cfg, salesforce.WithOnRefreshToken(func(s string) {
		mu.Lock()
		rotated = append(rotated, s)
		mu.Unlock()
	}))
	ctx := context.Background()
	if _, err := c.Limits(ctx); err != nil {
		t.Fatal(err)
	}
	org.ExpireSessions()
	if _, err := c.Limits(ctx); err != nil {
		t.Fatalf("after session expiry: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(rotated) != 2 || rotated[0] == rt || rotated[0] == rotated[1] {
		t.Errorf("rotations = %d, want 2 distinct new tokens", len(rotated))
	}
}

func TestSimJWTBearer(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	org, url := startSim(t, sfsim.Options{JWTPublicKey: &key.PublicKey, Username: "integration@example.com"})
	_ = org
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(t.TempDir(), "sf.key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := salesforce.Config{LoginURL: url, Auth: salesforce.AuthConfig{Flow: salesforce.FlowJWT, ClientID: simClientID, Username: "integration@example.com", PrivateKeyFile: keyFile}}
	c := newSimClient(t, cfg)
	if err := c.Authenticate(context.Background()); err != nil {
		t.Fatalf("jwt: %v", err)
	}
	cfg.Auth.Username = "intruder@example.com"
	c = newSimClient(t, cfg)
	var te *salesforce.TokenError
	if err := c.Authenticate(context.Background()); !errors.As(err, &te) || salesforce.ErrorKind(err) != salesforce.KindAuth {
		t.Errorf("wrong sub: err = %v, want auth *TokenError", err)
	}
}

func TestSimDuplicateRuleAndHeader(t *testing.T) {
	_, url := startSim(t, sfsim.Options{})
	c := newSimClient(t, ccConfig(url))
	ctx := context.Background()
	fields := map[string]any{"LastName": "Smith", "Email": "jsmith@dupe.example"}
	existing, err := c.Create(ctx, "Contact", fields)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Create(ctx, "Contact", fields)
	var ae *salesforce.APIError
	if !errors.As(err, &ae) || ae.Code() != "DUPLICATES_DETECTED" {
		t.Fatalf("err = %v, want DUPLICATES_DETECTED", err)
	}
	if ids := ae.DuplicateResult().MatchedIDs(); len(ids) != 1 || ids[0] != existing {
		t.Errorf("matched = %v, want [%s]", ids, existing)
	}
	if _, err := c.Create(ctx, "Contact", fields, salesforce.AllowDuplicateSave(true)); err != nil {
		t.Errorf("with allowSave: %v", err)
	}
}

func TestSimFaultClassesAndLimit(t *testing.T) {
	org, url := startSim(t, sfsim.Options{DailyAPILimit: 10})
	c := newSimClient(t, ccConfig(url))
	ctx := context.Background()
	if err := c.Authenticate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fault string
		kind  salesforce.Kind
	}{
		{"SERVER_UNAVAILABLE", salesforce.KindTransient},
		{"UNABLE_TO_LOCK_ROW", salesforce.KindTransient},
		{"REQUEST_LIMIT_EXCEEDED", salesforce.KindRateLimited},
		{"BAD_GATEWAY", salesforce.KindTransient},
	} {
		org.SetFaults(sfsim.Faults{ErrorRate: 1, Errors: []string{tc.fault}})
		// Lock contention only happens on writes, so write.
		_, err := c.Create(ctx, "Account", map[string]any{"Name": "Fault " + tc.fault})
		if err == nil || salesforce.ErrorKind(err) != tc.kind {
			t.Errorf("%s: err = %v, kind %v, want %v", tc.fault, err, salesforce.ErrorKind(err), tc.kind)
		}
	}
	org.SetFaults(sfsim.Faults{})

	// Exhaust the 10-call allocation: the governor stops non-critical calls
	// at 80%, critical ones at 95%, and the org itself answers 403 after.
	var governed, limited bool
	for range 30 {
		_, err := c.Limits(salesforce.WithCritical(ctx))
		var ge *salesforce.GovernorError
		if errors.As(err, &ge) {
			governed = true
			break
		}
		if salesforce.HasErrorCode(err, "REQUEST_LIMIT_EXCEEDED") {
			limited = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !governed && !limited {
		t.Fatalf("30 calls against a 10-call allocation all succeeded (budget %+v)", c.Budget())
	}
	if b := c.Budget(); b.Max != 10 {
		t.Errorf("budget max = %d, want 10", b.Max)
	}
	// A fresh client that never saw the header reaches the org, which refuses.
	c2 := newSimClient(t, ccConfig(url))
	for range 5 {
		_, err := c2.Limits(ctx)
		if err != nil {
			if !strings.Contains(err.Error(), "REQUEST_LIMIT_EXCEEDED") && !strings.Contains(err.Error(), "governor") {
				t.Errorf("err = %v", err)
			}
			return
		}
	}
	t.Error("exhausted org kept answering")
}

func TestSimTimeoutAndSessionFaults(t *testing.T) {
	org, url := startSim(t, sfsim.Options{MaxHang: 5 * time.Second})
	cfg := ccConfig(url)
	cfg.Timeout = 100 * time.Millisecond // the "timeout" fault hangs until the client gives up
	c := newSimClient(t, cfg)
	ctx := context.Background()
	if err := c.Authenticate(ctx); err != nil {
		t.Fatal(err)
	}
	org.SetFaults(sfsim.Faults{ErrorRate: 1, Errors: []string{"timeout"}})
	_, err := c.Limits(ctx)
	var te *salesforce.TransportError
	if !errors.As(err, &te) || !te.Temporary() {
		t.Errorf("timeout: err = %v, want transient *TransportError", err)
	}
	org.SetFaults(sfsim.Faults{ErrorRate: 1, Errors: []string{"INVALID_SESSION_ID"}})
	_, err = c.Limits(ctx)
	if salesforce.ErrorKind(err) != salesforce.KindAuth {
		t.Errorf("persistent INVALID_SESSION_ID: err = %v, kind %v", err, salesforce.ErrorKind(err))
	}
}
