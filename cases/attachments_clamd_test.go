package cases

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// eicar is the industry's harmless antivirus test file.
const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!H+H*`

// startClamd runs a real clamd whose only signature is the EICAR file's hash
// (a .hdb line md5:size:name): no signature download is needed. Without
// clamd the test is skipped, unless CI is set.
func startClamd(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("clamd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/clamd"); serr == nil {
			bin = "/usr/sbin/clamd"
		}
	}
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("clamd is not installed (CI installs clamav-daemon)")
		}
		t.Skip("clamd not installed")
	}
	dir, err := os.MkdirTemp("", "clamd") // short: a unix socket path is limited to ~108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte(eicar))
	if err := os.WriteFile(filepath.Join(db, "eicar.hdb"), fmt.Appendf(nil, "%s:%d:Eicar-Test-Signature\n", hex.EncodeToString(sum[:]), len(eicar)), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "clamd.sock")
	conf := filepath.Join(dir, "clamd.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "LocalSocket %s\nDatabaseDirectory %s\nForeground yes\nLogFile %s\nTemporaryDirectory %s\nStreamMaxLength 30M\n",
		sock, db, filepath.Join(dir, "clamd.log"), dir), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config-file="+conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	// Wait until it answers PING (loading one hash takes well under a second;
	// the bound only stops a broken daemon from hanging the test).
	for i := 0; ; i++ {
		select {
		case err := <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "clamd.log"))
			t.Fatalf("clamd exited: %v\n%s\n%s", err, out.String(), log)
		default:
		}
		if c, err := net.Dial("unix", sock); err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte("zPING\x00"))
			b := make([]byte, 16)
			n, _ := c.Read(b)
			c.Close()
			if strings.HasPrefix(string(b[:n]), "PONG") {
				return "unix:" + sock
			}
		}
		if i > 600 {
			t.Fatalf("clamd did not come up: %s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestClamdEICAR(t *testing.T) {
	addr := startClamd(t)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		data string
		want string
	}{
		"eicar": {eicar, "Eicar-Test-Signature"},
		"clean": {"just a log line\n", ""},
		"empty": {"", ""},
	} {
		sig, err := clamdScan(ctx, addr, time.Minute, strings.NewReader(tc.data))
		if err != nil || !strings.HasPrefix(sig, tc.want) || (tc.want == "" && sig != "") {
			t.Errorf("%s: %q %v, want %q", name, sig, err, tc.want)
		}
	}
	if _, err := clamdScan(ctx, "unix:/nonexistent/clamd.sock", time.Second, strings.NewReader("x")); err == nil || !isTemporary(err) {
		t.Errorf("unreachable clamd: %v, want a temporary error", err)
	}

	// Through the stage: the infected file is not uploaded, the case is flagged.
	e := newEnv(t)
	cfg := Config{}
	cfg.Attachments.Clamd = addr
	s := e.stage(cfg)
	in := newEmail("ann@customer.example", "v1@customer.example", "Invoice")
	var b bytes.Buffer
	mailTo(&b, "ann@customer.example", "v1@customer.example", "Invoice",
		tfile{"invoice.txt", "text/plain", []byte(eicar), false}, tfile{"invoice.pdf", "application/pdf", pdfData, false})
	r, err := s.Process(ctx, e.recordRaw(b.Bytes(), &in), in)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Malware || r.Files[0].Status != FileInfected || !strings.Contains(r.Files[0].Scan, "Eicar") || r.Files[1].Status != FileUploaded || r.Files[1].Scan != "clean" {
		t.Fatalf("result: malware %v, files %+v", r.Malware, r.Files)
	}
	if n := e.count("ContentVersion", nil); n != 1 {
		t.Errorf("%d files uploaded, want 1 (the clean one)", n)
	}
	task, _ := e.record("Task", r.TaskID)["Description"].(string)
	if !strings.Contains(task, "malware") || !strings.Contains(task, "invoice.txt") {
		t.Errorf("Task does not warn about the malware: %q", task)
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
