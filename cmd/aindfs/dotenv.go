package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/joho/godotenv"
)

// loadSettings reads the .env files that apply to this run (see loadDotEnv)
// and says in the log which ones were read, since any parent folder may hold
// one and its settings (the Code Ocean domain, AWS keys) change where
// requests go.
func (g *globals) loadSettings() {
	cwd, _ := os.Getwd()
	home, _ := os.UserHomeDir()
	files, err := loadDotEnv(cwd, home)
	if len(files) > 0 {
		g.log.Info("read settings from .env files", "files", files)
	}
	if err != nil {
		g.log.Warn("could not read .env file", "err", err)
	}
}

// loadDotEnv sets variables from .env files: the one in startDir, then those
// of its parents up to the root, then the one in homeDir. A variable already
// set keeps its value, so the environment beats any file and a nearer file
// beats a farther one. Missing files are fine; an empty startDir or homeDir is
// skipped. It returns the files it read, nearest first.
func loadDotEnv(startDir, homeDir string) ([]string, error) {
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
			return nil, fmt.Errorf("find .env files from %s: %w", startDir, err)
		}
		for {
			if err := add(dir); err != nil {
				return nil, err
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
			return nil, err
		}
	}
	for i, f := range files {
		// godotenv.Load never overrides a variable that is already set.
		if err := godotenv.Load(f); err != nil {
			return files[:i], fmt.Errorf("read %s: %w", f, err)
		}
	}
	return files, nil
}
