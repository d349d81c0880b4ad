package gustcmd

import (
	"os"
	"testing"

	"github.com/gusthub/gust/internal/dockertest"
	"github.com/gusthub/gust/internal/exampletest"
)

// owners are the container owners of the servers the tests start (one per
// data dir); TestMain removes what they left, at the end and before the
// run would hit its -timeout.
var owners dockertest.Owners

func TestMain(m *testing.M) {
	code := dockertest.Main(m, &owners)
	exampletest.RemoveBinary()
	os.Exit(code)
}
