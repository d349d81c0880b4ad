package gustcmd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/api"
)

// bootstrap makes sure the admin key and namespace guest exist, and that
// the gust CLI on this machine works with no set-up. The data dir keeps a
// CLI configuration of its own, cli-config; the user's (GUST_CONFIG or
// ~/.config/gust/config) is written only when there is none or when it
// names this data dir, so that a second server (a test, another data dir)
// never takes the user's CLI away from the first.
func bootstrap(ctx context.Context, ids *api.Identities, o serveOptions, e *env, apiHost string, log *slog.Logger) error {
	adminAuth, err := ensureAdmin(ctx, ids, o.dataDir)
	if err != nil {
		return err
	}
	dataDir := o.dataDir
	ownPath := filepath.Join(dataDir, dataDirConfig)
	own, err := readProps(ownPath)
	if err != nil {
		return err
	}
	userPath := configPath(e.getenv)
	user, err := readProps(userPath)
	if err != nil {
		return err
	}
	guestAuth := ""
	if o.devGuestKey {
		if err := ids.Add(ctx, "guest", api.DevGuestKey, false); err != nil {
			return fmt.Errorf("register the dev guest key: %w", err)
		}
		guestAuth = api.DevGuestKey
	} else {
		for _, auth := range []string{own[propAuth], user[propAuth]} {
			if auth != "" && authenticates(ctx, ids, auth) {
				guestAuth = auth // written down already: only its hash is kept
				break
			}
		}
	}
	if guestAuth == "" {
		if guestAuth, err = ids.Create(ctx, "guest", false); err != nil {
			return fmt.Errorf("create namespace guest: %w", err)
		}
		log.Info("created a key for namespace guest", "config", ownPath)
	}
	want := map[string]string{propAPIHost: apiHost, propAuth: guestAuth, propAdminAuth: adminAuth, propDataDir: dataDir}
	if err := updateProps(ownPath, own, want); err != nil {
		return err
	}
	if userPath == ownPath {
		return nil
	}
	if !namesDataDir(user, dataDir) {
		log.Info("the CLI config names another server: left as it is", "config", userPath,
			"point_cli_here", "export GUST_CONFIG="+ownPath)
		return nil
	}
	return updateProps(userPath, user, want)
}

// dataDirConfig is the CLI configuration serve keeps in its data dir.
const dataDirConfig = "cli-config"

// namesDataDir says whether serve on dataDir may write the CLI
// configuration props: when it names no server, or names this data dir.
func namesDataDir(props map[string]string, dataDir string) bool {
	if props[propAPIHost] == "" && props[propAuth] == "" {
		return true
	}
	return props[propDataDir] == dataDir
}

// updateProps writes want over props to path, unless props hold it all.
func updateProps(path string, props, want map[string]string) error {
	changed := false
	for k, v := range want {
		if props[k] != v {
			props[k], changed = v, true
		}
	}
	if !changed {
		return nil
	}
	return writeProps(path, props)
}

func authenticates(ctx context.Context, ids *api.Identities, auth string) bool {
	id, key, ok := strings.Cut(auth, ":")
	if !ok {
		return false
	}
	_, err := ids.Authenticate(ctx, id, key)
	return err == nil
}

// ensureAdmin returns the admin key kept in the data directory (mode 0600),
// creating it on first start. It may create namespaces.
func ensureAdmin(ctx context.Context, ids *api.Identities, dataDir string) (string, error) {
	path := filepath.Join(dataDir, "admin.auth")
	if b, err := os.ReadFile(path); err == nil {
		auth := strings.TrimSpace(string(b))
		if err := ids.Add(ctx, actions.SystemNamespace, auth, true); err != nil {
			return "", fmt.Errorf("register admin key: %w", err)
		}
		return auth, nil
	}
	auth, err := ids.Create(ctx, actions.SystemNamespace, true)
	if err != nil {
		return "", fmt.Errorf("create admin key: %w", err)
	}
	if err := os.WriteFile(path, []byte(auth+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write admin key: %w", err)
	}
	return auth, nil
}
