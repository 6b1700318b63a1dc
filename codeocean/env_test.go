package codeocean

import (
	"strings"
	"testing"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name       string
		env        []string
		wantToken  string
		wantVar    string
		wantDomain string
	}{
		{"named variable first", []string{"A=cop_other", "CODE_OCEAN_API_TOKEN=cop_named"}, "cop_named", TokenVar, DefaultDomain},
		{"first cop_ value", []string{"HOME=/root", "MY_CO=cop_first", "OTHER=cop_second"}, "cop_first", "MY_CO", DefaultDomain},
		{"prefix in any case", []string{"PATH=/bin", "X=COP_upper", "Y=cop_lower"}, "COP_upper", "X", DefaultDomain},
		{"mixed case prefix", []string{"X=Cop_mixed"}, "Cop_mixed", "X", DefaultDomain},
		{"prefix alone is no token", []string{"X=cop_", "Y=cop_real"}, "cop_real", "Y", DefaultDomain},
		{"prefix must start the value", []string{"X=scop_no", "Y=not cop_no"}, "", "", DefaultDomain},
		{"name is not the value", []string{"cop_NAME=value"}, "", "", DefaultDomain},
		{"empty named variable falls back", []string{"CODE_OCEAN_API_TOKEN=", "T=cop_fallback"}, "cop_fallback", "T", DefaultDomain},
		{"spaces trimmed", []string{"CODE_OCEAN_API_TOKEN= cop_spaced \n"}, "cop_spaced", TokenVar, DefaultDomain},
		{"domain", []string{"CODE_OCEAN_DOMAIN=https://co.example.org"}, "", "", "https://co.example.org"},
		{"nothing", nil, "", "", DefaultDomain},
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
			cfg, from := ConfigFromEnv(getenv, tt.env)
			if cfg.Token != tt.wantToken || from != tt.wantVar || cfg.Domain != tt.wantDomain {
				t.Errorf("got token %q from %q, domain %q; want %q from %q, %q", cfg.Token, from, cfg.Domain, tt.wantToken, tt.wantVar, tt.wantDomain)
			}
		})
	}
}
