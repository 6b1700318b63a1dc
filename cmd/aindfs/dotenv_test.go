package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aind/aindfs/codeocean"
)

// clearTokens makes the process environment free of Code Ocean settings for
// the test (restored afterwards), so a developer's own token cannot interfere.
func clearTokens(t *testing.T, keys ...string) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(strings.ToLower(v), "cop_") {
			keys = append(keys, k)
		}
	}
	for _, k := range append(keys, codeocean.TokenVar, codeocean.DomainVar) {
		t.Setenv(k, "") // registers the restore
		os.Unsetenv(k)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDotEnv(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string // path under the temp dir -> content
		preset     map[string]string
		wantToken  string
		wantDomain string
		wantRead   []string // files read, nearest first
	}{
		{
			name:      "token from a parent folder",
			files:     map[string]string{"project/.env": "MY_CODEOCEAN_KEY=cop_fromparent\n"},
			wantToken: "cop_fromparent", wantDomain: codeocean.DefaultDomain,
			wantRead: []string{"project/.env"},
		},
		{
			name: "nearer file wins",
			files: map[string]string{
				"project/sub/work/.env": "CODE_OCEAN_DOMAIN=https://near.example\n",
				"project/.env":          "CODE_OCEAN_DOMAIN=https://far.example\nCODE_OCEAN_API_TOKEN=cop_far\n",
			},
			wantToken: "cop_far", wantDomain: "https://near.example",
			wantRead: []string{"project/sub/work/.env", "project/.env"},
		},
		{
			name: "home comes last",
			files: map[string]string{
				"project/.env": "CODE_OCEAN_API_TOKEN=cop_project\n",
				"home/.env":    "CODE_OCEAN_API_TOKEN=cop_home\nCODE_OCEAN_DOMAIN=https://home.example\n",
			},
			wantToken: "cop_project", wantDomain: "https://home.example",
			wantRead: []string{"project/.env", "home/.env"},
		},
		{
			name:      "set variables win",
			files:     map[string]string{"project/sub/work/.env": "CODE_OCEAN_API_TOKEN=cop_fromfile\n"},
			preset:    map[string]string{codeocean.TokenVar: "cop_fromenv"},
			wantToken: "cop_fromenv", wantDomain: codeocean.DefaultDomain,
			wantRead: []string{"project/sub/work/.env"},
		},
		{
			name:      "quoted values and comments",
			files:     map[string]string{"project/.env": "# my token\nexport CO_TOKEN=\"cop_quoted\"\n"},
			wantToken: "cop_quoted", wantDomain: codeocean.DefaultDomain,
			wantRead: []string{"project/.env"},
		},
		{
			name:      "no files",
			wantToken: "", wantDomain: codeocean.DefaultDomain,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearTokens(t, "MY_CODEOCEAN_KEY", "CO_TOKEN")
			for k, v := range tt.preset {
				t.Setenv(k, v)
			}
			root := t.TempDir()
			for p, content := range tt.files {
				writeFile(t, filepath.Join(root, p), content)
			}
			start := filepath.Join(root, "project", "sub", "work")
			if err := os.MkdirAll(start, 0o755); err != nil {
				t.Fatal(err)
			}
			read, err := loadDotEnv(start, filepath.Join(root, "home"))
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, p := range tt.wantRead {
				want = append(want, filepath.Join(root, p))
			}
			if !slices.Equal(read, want) {
				t.Errorf("read %q, want %q", read, want)
			}
			cfg, _ := codeocean.ConfigFromEnv(os.Getenv, os.Environ())
			if cfg.Token != tt.wantToken || cfg.Domain != tt.wantDomain {
				t.Errorf("got token %q domain %q, want %q %q", cfg.Token, cfg.Domain, tt.wantToken, tt.wantDomain)
			}
		})
	}
}

func TestLoadDotEnvSkipsFoldersNamedDotEnv(t *testing.T) {
	clearTokens(t)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, ".env"), 0o755); err != nil {
		t.Fatal(err)
	}
	if read, err := loadDotEnv(root, ""); err != nil || len(read) != 0 {
		t.Errorf("a folder named .env: read %q, %v", read, err)
	}
}

// The .env files read are named in the log at info level, so a setting that
// came from a file in some parent folder can be traced; the token is not.
func TestDotEnvFilesAreLogged(t *testing.T) {
	clearTokens(t, "MY_KEY")
	root := t.TempDir()
	project := filepath.Join(root, "project")
	writeFile(t, filepath.Join(project, ".env"), "MY_KEY=cop_secretvalue123\n")
	t.Setenv("HOME", filepath.Join(root, "home"))
	t.Chdir(project)

	code, _, errOut := runCLI(t, "--log-level", "info", "version")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "read settings from .env files") || !strings.Contains(errOut, filepath.Join(project, ".env")) {
		t.Errorf("the log does not name the .env file read:\n%s", errOut)
	}
	if strings.Contains(errOut, "cop_secretvalue123") {
		t.Errorf("the log shows the token:\n%s", errOut)
	}
	_, _, errOut = runCLI(t, "version")
	if strings.Contains(errOut, ".env") {
		t.Errorf("at the default level the .env files are logged:\n%s", errOut)
	}
}

// A token found by its cop_ value under another name is used, and the log
// names that variable, never the value.
func TestTokenVariableIsNamed(t *testing.T) {
	clearTokens(t, "LAB_CO_KEY")
	withFakeCodeOcean(t)
	os.Unsetenv(codeocean.TokenVar)
	t.Setenv("LAB_CO_KEY", testToken)
	code, out, errOut := runCLI(t, "--log-level", "info", "session", sampleID, "--data", sampleData(t), "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, sampleSorted) {
		t.Errorf("the session was not resolved online with the token of $LAB_CO_KEY:\n%s", out)
	}
	if !strings.Contains(errOut, "code ocean token") || !strings.Contains(errOut, "from=$LAB_CO_KEY") {
		t.Errorf("the log does not name the token's variable:\n%s", errOut)
	}
	if strings.Contains(errOut, testToken) {
		t.Errorf("the log shows the token:\n%s", errOut)
	}
}
