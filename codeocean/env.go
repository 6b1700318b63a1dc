package codeocean

import "strings"

// Environment variables the configuration is read from.
const (
	TokenVar  = "CODE_OCEAN_API_TOKEN"
	DomainVar = "CODE_OCEAN_DOMAIN"
)

// tokenPrefix starts every Code Ocean access token; people keep tokens under
// names of their own, so any variable holding one is found.
const tokenPrefix = "cop_"

// ConfigFromEnv reads the domain and token from the environment: the token is
// CODE_OCEAN_API_TOKEN, else the value of the first variable of environ
// ("KEY=value" pairs, as os.Environ returns them) that starts with cop_ in any
// case; the domain is CODE_OCEAN_DOMAIN, else DefaultDomain. tokenVar names
// the variable the token came from ("" when there is none), so a run can say
// where its token was found without showing it.
func ConfigFromEnv(getenv func(string) string, environ []string) (cfg Config, tokenVar string) {
	cfg = Config{
		Domain: strings.TrimSpace(getenv(DomainVar)),
		Token:  strings.TrimSpace(getenv(TokenVar)),
	}
	if cfg.Domain == "" {
		cfg.Domain = DefaultDomain
	}
	if cfg.Token != "" {
		return cfg, TokenVar
	}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		v = strings.TrimSpace(v)
		if ok && len(v) > len(tokenPrefix) && strings.EqualFold(v[:len(tokenPrefix)], tokenPrefix) {
			cfg.Token = v
			return cfg, k
		}
	}
	return cfg, ""
}
