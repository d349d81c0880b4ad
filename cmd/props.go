package gustcmd

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Keys of the CLI configuration file, in wsk's .wskprops style.
const (
	propAPIHost   = "APIHOST"
	propAuth      = "AUTH"
	propAdminAuth = "ADMIN_AUTH"
	// propDataDir names the data dir of the `gust serve` that wrote the
	// file; only that serve rewrites it.
	propDataDir = "DATA_DIR"
)

// configPath is the CLI configuration file: $GUST_CONFIG, or gust/config in
// the user's configuration directory.
func configPath(getenv func(string) string) string {
	if p := getenv("GUST_CONFIG"); p != "" {
		return p
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		if home := getenv("HOME"); home != "" {
			dir = filepath.Join(home, ".config")
		} else if d, err := os.UserConfigDir(); err == nil {
			dir = d
		}
	}
	return filepath.Join(dir, "gust", "config")
}

// readProps reads KEY=VALUE lines; a missing file is an empty config.
func readProps(path string) (map[string]string, error) {
	props := map[string]string{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return props, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			props[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return props, sc.Err()
}

// writeProps writes props to path (mode 0600: it holds keys), atomically.
func writeProps(path string, props map[string]string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Gust CLI configuration, written by `gust serve` and `gust property set`.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}
