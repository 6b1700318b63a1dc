package codeocean

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name       string
		env        []string
		wantToken  string
		wantDomain string
	}{
		{"named variable first", []string{"A=cop_other", "CODE_OCEAN_API_TOKEN=cop_named"}, "cop_named", DefaultDomain},
		{"first cop_ value", []string{"HOME=/root", "MY_CO=cop_first", "OTHER=cop_second"}, "cop_first", DefaultDomain},
		{"prefix in any case", []string{"PATH=/bin", "X=COP_upper", "Y=cop_lower"}, "COP_upper", DefaultDomain},
		{"mixed case prefix", []string{"X=Cop_mixed"}, "Cop_mixed", DefaultDomain},
		{"prefix alone is no token", []string{"X=cop_", "Y=cop_real"}, "cop_real", DefaultDomain},
		{"prefix must start the value", []string{"X=scop_no", "Y=not cop_no"}, "", DefaultDomain},
		{"name is not the value", []string{"cop_NAME=value"}, "", DefaultDomain},
		{"empty named variable falls back", []string{"CODE_OCEAN_API_TOKEN=", "T=cop_fallback"}, "cop_fallback", DefaultDomain},
		{"spaces trimmed", []string{"CODE_OCEAN_API_TOKEN= cop_spaced \n"}, "cop_spaced", DefaultDomain},
		{"domain", []string{"CODE_OCEAN_DOMAIN=https://co.example.org"}, "", "https://co.example.org"},
		{"nothing", nil, "", DefaultDomain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				for _, kv := range tt.env {
					if key, v, _ := strings.Cut(kv, "="); key == k {
						return v
					}
				}
				return ""
			}
			cfg := ConfigFromEnv(getenv, tt.env)
			if cfg.Token != tt.wantToken || cfg.Domain != tt.wantDomain {
				t.Errorf("got token %q domain %q, want %q %q", cfg.Token, cfg.Domain, tt.wantToken, tt.wantDomain)
			}
		})
	}
}

// clearTokens makes the process environment free of Code Ocean settings for
// the test (restored afterwards), so a developer's own token cannot interfere.
func clearTokens(t *testing.T, keys ...string) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(strings.ToLower(v), tokenPrefix) {
			keys = append(keys, k)
		}
	}
	for _, k := range append(keys, TokenVar, DomainVar) {
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
	}{
		{
			name:      "token from a parent folder",
			files:     map[string]string{"project/.env": "MY_CODEOCEAN_KEY=cop_fromparent\n"},
			wantToken: "cop_fromparent", wantDomain: DefaultDomain,
		},
		{
			name: "nearer file wins",
			files: map[string]string{
				"project/sub/work/.env": "CODE_OCEAN_DOMAIN=https://near.example\n",
				"project/.env":          "CODE_OCEAN_DOMAIN=https://far.example\nCODE_OCEAN_API_TOKEN=cop_far\n",
			},
			wantToken: "cop_far", wantDomain: "https://near.example",
		},
		{
			name: "home comes last",
			files: map[string]string{
				"project/.env": "CODE_OCEAN_API_TOKEN=cop_project\n",
				"home/.env":    "CODE_OCEAN_API_TOKEN=cop_home\nCODE_OCEAN_DOMAIN=https://home.example\n",
			},
			wantToken: "cop_project", wantDomain: "https://home.example",
		},
		{
			name:      "set variables win",
			files:     map[string]string{"project/sub/work/.env": "CODE_OCEAN_API_TOKEN=cop_fromfile\n"},
			preset:    map[string]string{TokenVar: "cop_fromenv"},
			wantToken: "cop_fromenv", wantDomain: DefaultDomain,
		},
		{
			name:      "quoted values and comments",
			files:     map[string]string{"project/.env": "# my token\nexport CO_TOKEN=\"cop_quoted\"\n"},
			wantToken: "cop_quoted", wantDomain: DefaultDomain,
		},
		{
			name:      "no files",
			wantToken: "", wantDomain: DefaultDomain,
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
			if err := LoadDotEnv(start, filepath.Join(root, "home")); err != nil {
				t.Fatal(err)
			}
			cfg := ConfigFromEnv(os.Getenv, os.Environ())
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
	if err := LoadDotEnv(root, ""); err != nil {
		t.Errorf("a folder named .env: %v", err)
	}
}
