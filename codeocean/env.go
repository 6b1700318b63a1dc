package codeocean

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/joho/godotenv"
)

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
// case; the domain is CODE_OCEAN_DOMAIN, else DefaultDomain.
func ConfigFromEnv(getenv func(string) string, environ []string) Config {
	cfg := Config{
		Domain: strings.TrimSpace(getenv(DomainVar)),
		Token:  strings.TrimSpace(getenv(TokenVar)),
	}
	if cfg.Domain == "" {
		cfg.Domain = DefaultDomain
	}
	if cfg.Token == "" {
		for _, kv := range environ {
			_, v, ok := strings.Cut(kv, "=")
			v = strings.TrimSpace(v)
			if ok && len(v) > len(tokenPrefix) && strings.EqualFold(v[:len(tokenPrefix)], tokenPrefix) {
				cfg.Token = v
				break
			}
		}
	}
	return cfg
}

// LoadDotEnv sets variables from .env files: the one in startDir, then those
// of its parents up to the root, then the one in homeDir. A variable already
// set keeps its value, so the environment beats any file and a nearer file
// beats a farther one. Missing files are fine; an empty startDir or homeDir is
// skipped. Only the command line calls this: the library never reads files
// behind its caller's back.
func LoadDotEnv(startDir, homeDir string) error {
	var files []string
	seen := map[string]bool{}
	add := func(dir string) error {
		f := filepath.Join(dir, ".env")
		if seen[f] {
			return nil
		}
		seen[f] = true
		info, err := os.Stat(f)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil
		case err != nil:
			return fmt.Errorf("read %s: %w", f, err)
		case info.Mode().IsRegular():
			files = append(files, f)
		}
		return nil
	}
	if startDir != "" {
		dir, err := filepath.Abs(startDir)
		if err != nil {
			return fmt.Errorf("find .env files from %s: %w", startDir, err)
		}
		for {
			if err := add(dir); err != nil {
				return err
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if homeDir != "" {
		if err := add(filepath.Clean(homeDir)); err != nil {
			return err
		}
	}
	for _, f := range files {
		// godotenv.Load never overrides a variable that is already set.
		if err := godotenv.Load(f); err != nil {
			return fmt.Errorf("read %s: %w", f, err)
		}
	}
	return nil
}
