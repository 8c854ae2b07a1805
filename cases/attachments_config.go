package cases

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ByteSize is a size in bytes; in YAML a number of bytes or a string with a
// unit: "25MB" (10^6), "25MiB" (2^20), "512KB", "1GB".
type ByteSize int64

// UnmarshalYAML accepts 1048576, "1048576", "1MiB", "1.5MB".
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

func parseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	up := strings.ToUpper(s)
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(up, u.suffix) {
			mult, s = u.mult, strings.TrimSpace(s[:len(s)-len(u.suffix)])
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0) || f*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size (bytes, or a number with KB, MB, GB, KiB, MiB, GiB)", s)
	}
	return ByteSize(f * mult), nil
}

// Salesforce limits: a file in a JSON (base64) insert is at most 37.5 MB; a
// multipart ContentVersion insert at most 2 GB; a /composite request holds
// at most 25 subrequests.
const (
	sfMaxJSONFile      = 37_500_000
	sfMaxMultipartFile = 2 << 30
	sfMaxSubrequests   = 25
)

// AttachmentConfig is `cases.attachments`: which files of an email are
// uploaded to its case as Salesforce Files.
type AttachmentConfig struct {
	// Enabled uploads attachments. Default true.
	Enabled *bool `yaml:"enabled"`
	// IncludeInline uploads inline parts (images in the HTML body) too. Default false.
	IncludeInline bool `yaml:"include_inline"`
	// MaxFileSize: a larger file is not uploaded (listed on the Task). Default 25MiB.
	MaxFileSize ByteSize `yaml:"max_file_size"`
	// MaxTotalPerEmail: files past this total are not uploaded. Default 100MiB.
	MaxTotalPerEmail ByteSize `yaml:"max_total_per_email"`
	// CompositeMax: files whose total size fits ride base64-encoded in the
	// email's own /composite request (one API call); larger ones are each one
	// multipart upload after it. Default 4MiB.
	CompositeMax ByteSize `yaml:"composite_max"`
	// BlockedExtensions (without dot, case-insensitive). Default: executables and scripts.
	BlockedExtensions []string `yaml:"blocked_extensions"`
	// BlockedContentTypes are refused whether declared or sniffed from the
	// content. Default: executables and scripts.
	BlockedContentTypes []string `yaml:"blocked_content_types"`
	// OnBlocked is what happens to a blocked, oversized or infected file:
	// "skip" (not uploaded, listed with the reason on the case's Task). Default skip.
	OnBlocked string `yaml:"on_blocked"`
	// Clamd, when set, scans every file before upload with a ClamAV daemon:
	// "unix:/run/clamav/clamd.ctl" or "tcp:127.0.0.1:3310".
	Clamd string `yaml:"clamd"`
	// ClamdTimeout bounds one scan. Default 60s.
	ClamdTimeout time.Duration `yaml:"clamd_timeout"`
}

// DefaultBlockedExtensions are executables, installers and scripts.
var DefaultBlockedExtensions = []string{"exe", "dll", "com", "scr", "pif", "bat", "cmd", "msi", "msp", "msc", "vbs", "vbe",
	"js", "jse", "wsf", "wsh", "ws", "ps1", "psm1", "hta", "cpl", "jar", "sh", "bash", "apk", "app", "lnk", "reg", "inf", "scf", "gadget", "elf", "run", "dmg", "pkg", "deb", "rpm"}

// DefaultBlockedContentTypes are executable and script media types.
var DefaultBlockedContentTypes = []string{"application/x-msdownload", "application/x-dosexec", "application/x-executable",
	"application/x-msdos-program", "application/vnd.microsoft.portable-executable", "application/x-mach-binary",
	"application/x-sharedlib", "application/java-archive", "application/x-java-archive", "application/x-sh",
	"application/x-shellscript", "text/x-shellscript", "application/x-bat", "application/x-msi", "application/hta",
	"application/javascript", "text/javascript", "application/x-javascript", "text/vbscript", "application/x-powershell"}

// SetDefaults fills unset keys.
func (a *AttachmentConfig) SetDefaults() {
	if a.Enabled == nil {
		a.Enabled = boolp(true)
	}
	if a.MaxFileSize == 0 {
		a.MaxFileSize = 25 << 20
	}
	if a.MaxTotalPerEmail == 0 {
		a.MaxTotalPerEmail = 100 << 20
	}
	if a.CompositeMax == 0 {
		a.CompositeMax = 4 << 20
	}
	if a.BlockedExtensions == nil {
		a.BlockedExtensions = DefaultBlockedExtensions
	}
	if a.BlockedContentTypes == nil {
		a.BlockedContentTypes = DefaultBlockedContentTypes
	}
	if a.OnBlocked == "" {
		a.OnBlocked = "skip"
	}
	if a.ClamdTimeout == 0 {
		a.ClamdTimeout = time.Minute
	}
}

// Validate reports problems; messages start with the key inside the section.
func (a *AttachmentConfig) Validate() []error {
	var errs []error
	add := func(format string, v ...any) { errs = append(errs, fmt.Errorf(format, v...)) }
	if a.MaxFileSize < 0 || a.MaxFileSize > sfMaxMultipartFile {
		add("max_file_size: %d out of range 0..%d (Salesforce's 2 GB upload limit)", a.MaxFileSize, int64(sfMaxMultipartFile))
	}
	if a.MaxTotalPerEmail < 0 {
		add("max_total_per_email: must not be negative")
	}
	if a.CompositeMax < 0 || a.CompositeMax > 30<<20 {
		add("composite_max: %d out of range 0..%d (a composite request carries the files base64-encoded)", a.CompositeMax, 30<<20)
	}
	if a.OnBlocked != "" && a.OnBlocked != "skip" {
		add("on_blocked: must be skip")
	}
	if a.Clamd != "" {
		if _, _, err := clamdAddr(a.Clamd); err != nil {
			add("clamd: %v", err)
		}
	}
	if a.ClamdTimeout < 0 {
		add("clamd_timeout: must not be negative")
	}
	for _, e := range a.BlockedExtensions {
		if strings.ContainsAny(e, "/\\ ") {
			add("blocked_extensions: %q is not an extension", e)
		}
	}
	return errs
}

func clamdAddr(s string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(s, "unix:") && len(s) > 5:
		return "unix", s[5:], nil
	case strings.HasPrefix(s, "tcp:") && len(s) > 4:
		return "tcp", s[4:], nil
	}
	return "", "", errors.New("must be unix:/path/to/clamd.sock or tcp:host:port")
}

// blockedReason says why policy refuses a file ("" when allowed).
func (a *AttachmentConfig) blockedReason(filename, declared, sniffed string) string {
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(strings.TrimSpace(filename)), "."))
	for _, b := range a.BlockedExtensions {
		if ext != "" && strings.EqualFold(strings.TrimPrefix(b, "."), ext) {
			return "blocked file type ." + ext
		}
	}
	for _, b := range a.BlockedContentTypes {
		if strings.EqualFold(b, declared) {
			return "blocked content type " + declared
		}
		if strings.EqualFold(b, sniffed) {
			return "blocked content type " + sniffed + " (detected from the content)"
		}
	}
	return ""
}
