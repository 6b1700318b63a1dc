package docdb

import "strings"

// URLVar names the environment variable holding DocDB's base URL; the value
// "off" turns DocDB off.
const URLVar = "AINDFS_DOCDB_URL"

// URLFromEnv returns the base URL to use: URLVar's value, else DefaultURL.
// on is false when the value is "off" (any case).
func URLFromEnv(getenv func(string) string) (url string, on bool) {
	v := strings.TrimSpace(getenv(URLVar))
	switch {
	case strings.EqualFold(v, "off"):
		return "", false
	case v == "":
		return DefaultURL, true
	}
	return v, true
}
