package gustcmd

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gusthub/gust/internal/dockertest"
)

// owners are the container owners of the servers the tests start (one per
// data dir); TestMain removes what they left, at the end and before the
// run would hit its -timeout.
var owners dockertest.Owners

func TestMain(m *testing.M) {
	code := dockertest.Main(m, &owners)
	if gustBin != "" {
		os.RemoveAll(filepath.Dir(gustBin))
	}
	os.Exit(code)
}
