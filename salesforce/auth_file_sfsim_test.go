package salesforce_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triage-dev/triage/salesforce"
	"github.com/triage-dev/triage/salesforce/sfsim"
)

// TestSimRefreshTokenFileSurvivesRestart: with rotation on, every refresh
// revokes the token it used. The rotated token written to
// auth.refresh_token_file lets a restarted client authenticate, where the
// configured (original) token alone no longer can.
func TestSimRefreshTokenFileSurvivesRestart(t *testing.T) {
	const original = "5Aep861originalSimToken"
	_, url := startSim(t, sfsim.Options{RefreshTokens: []string{original}, RotateRefreshTokens: true})
	file := filepath.Join(t.TempDir(), "sf.refresh")
	cfg := salesforce.Config{LoginURL: url, Auth: salesforce.AuthConfig{
		Flow: salesforce.FlowRefreshToken, ClientID: simClientID, ClientSecret: simClientSecret,
		RefreshToken: original, RefreshTokenFile: file,
	}}
	ctx := context.Background()

	var hooked []string
	first := newSimClient(t, cfg, salesforce.WithOnRefreshToken(func(s string) { hooked = append(hooked, s) }))
	if _, err := first.Limits(ctx); err != nil {
		t.Fatal(err)
	}
	stored, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("rotated token not stored: %v", err)
	}
	rotated := strings.TrimSpace(string(stored))
	if rotated == "" || rotated == original || len(hooked) != 1 || hooked[0] != rotated {
		t.Fatalf("stored %q, hook %v: want the one new token in both", rotated, hooked)
	}

	// A restart with the same config: the file supplies the live token.
	restarted := newSimClient(t, cfg)
	if _, err := restarted.Limits(ctx); err != nil {
		t.Fatalf("restarted client with the token file: %v", err)
	}

	// Without the file only the original, revoked token is left.
	noFile := cfg
	noFile.Auth.RefreshTokenFile = ""
	var te *salesforce.TokenError
	if err := newSimClient(t, noFile).Authenticate(ctx); !errors.As(err, &te) || te.ErrorCode != "invalid_grant" {
		t.Fatalf("original token after rotation: err = %v, want invalid_grant", err)
	}

	// The restart rotated again, revoking the token `first` holds; its next
	// refresh picks the newer token up from the shared file.
	if err := first.Authenticate(ctx); err != nil {
		t.Fatalf("first client after another client rotated the shared token: %v", err)
	}
	if _, err := first.Limits(ctx); err != nil {
		t.Fatal(err)
	}
}
