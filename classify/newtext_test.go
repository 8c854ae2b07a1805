package classify

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestNewTextGolden runs NewText over testdata/newtext/*.txt and compares with
// the .golden files (go test -run NewText -update rewrites them; review the diff).
func TestNewTextGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/newtext/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			b, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := NewText(string(b)) + "\n"
			golden := strings.TrimSuffix(in, ".txt") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("NewText mismatch\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}

func TestNewText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "Where is my order?", "Where is my order?"},
		{"crlf and quotes", "Yes.\r\n> old\r\n> older\r\n", "Yes."},
		{"dash signature", "Body text\n-- \nName\nPhone", "Body text"},
		{"sign-off needs content first", "Thanks,\nI still need the invoice.", "Thanks,\nI still need the invoice."},
		{"thanks sentence kept", "Thanks for nothing, the parcel is lost.\nRegards,\nBob", "Thanks for nothing, the parcel is lost."},
		{"spanish reply header", "Ya funciona.\n\nEl lun, 3 mar 2025 a las 10:12, Soporte <s@example.com> escribió:\n> hola", "Ya funciona."},
		{"italian", "Grazie, risolto.\nIl giorno lun 3 mar 2025, Supporto <s@example.com> ha scritto:\n> ciao", "Grazie, risolto."},
		{"dutch", "Het werkt weer.\nOp ma 3 mrt 2025 om 10:12 schreef Support <s@example.com>:\n> hallo", "Het werkt weer."},
		{"portuguese", "Obrigado, funciona.\nEm seg., 3 de mar. de 2025 às 10:12, Suporte <s@example.com> escreveu:\n> olá", "Obrigado, funciona."},
		{"french outlook", "Merci.\n\nDe : Service <s@example.com>\nEnvoyé : mardi 4 mars 2025 09:01\nÀ : moi\nObjet : RE: x\n\nold", "Merci."},
		{"from in body is kept", "From: my side the order is fine.\nBut the invoice is wrong.", "From: my side the order is fine.\nBut the invoice is wrong."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewText(tt.in); got != tt.want {
				t.Errorf("NewText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNewTextSignOffIsNotContent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hi,\nThanks for the help with my order\nbut the refund is still missing.\nBest regards,\nAnn", "Hi,\nThanks for the help with my order\nbut the refund is still missing."},
		{"The invoice is wrong.\nMerci de me rappeler demain\nau 0612.", "The invoice is wrong.\nMerci de me rappeler demain\nau 0612."},
		{"The invoice is wrong.\nThanks, Ann Smith\nSales Manager", "The invoice is wrong."},
		{"The invoice is wrong.\nMit freundlichen Grüßen\nMax", "The invoice is wrong."},
		{"Where is my parcel?\nCheers!", "Where is my parcel?"},
	}
	for _, tt := range tests {
		if got := NewText(tt.in); got != tt.want {
			t.Errorf("NewText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzNewText(f *testing.F) {
	files, _ := filepath.Glob("testdata/newtext/*.txt")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := NewText(s)
		// NewText only removes: every line it returns is a line of the input.
		in := map[string]bool{}
		for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
			in[strings.TrimRight(l, " \t")] = true
		}
		for _, l := range strings.Split(out, "\n") {
			if l != "" && !in[l] {
				t.Fatalf("line %q not in input", l)
			}
		}
		if NewText(out) != out && !strings.Contains(out, "\n\n") {
			// Stripping is idempotent for single-paragraph outputs.
			t.Fatalf("not idempotent: %q -> %q", out, NewText(out))
		}
	})
}
