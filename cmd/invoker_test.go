package gustcmd

import (
	"errors"
	"testing"

	"github.com/gusthub/gust/actions"
	"github.com/gusthub/gust/invoker"
	"github.com/gusthub/gust/invoker/docker"
)

// TestProcessImages checks what the process sandbox says of a blackbox
// image: that the Docker sandbox is needed when --sandbox process chose
// processes, that no engine answers when auto found none.
func TestProcessImages(t *testing.T) {
	blackbox := actions.Exec{Kind: actions.KindBlackbox, Image: "no/such:image"}
	for _, tc := range []struct {
		name   string
		chosen bool
		exec   actions.Exec
		want   string // the error, "" for none
	}{
		{name: "a runtime", chosen: true, exec: actions.Exec{Kind: "nodejs:20"}},
		{name: "the native skeleton", chosen: true, exec: actions.Exec{Kind: actions.KindBlackbox, Image: docker.NativeSkeleton}},
		{name: "blackbox under --sandbox process", chosen: true, exec: blackbox,
			want: "image: blackbox image no/such:image needs the Docker sandbox, and this server runs actions as local processes " +
				"(--sandbox process or GUST_SANDBOX=process): restart gust serve with --sandbox docker, or auto (the default: Docker when it answers)"},
		{name: "blackbox with no engine reachable", exec: blackbox,
			want: "image: blackbox image no/such:image needs a Docker engine, and none is reachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, proxy, err := processImages(tc.chosen)(t.Context(), tc.exec)
			switch {
			case tc.want == "" && (err != nil || !proxy):
				t.Fatalf("proxy %v, err %v", proxy, err)
			case tc.want != "" && (err == nil || err.Error() != tc.want || !errors.Is(err, invoker.ErrImage)):
				t.Fatalf("err %v, want %q wrapping invoker.ErrImage", err, tc.want)
			}
		})
	}
}
