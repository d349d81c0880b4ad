package dockertest

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
)

// OwnerLabel is the container label that names a container's owner
// (invoker/docker.LabelOwner; a test there checks that they agree).
const OwnerLabel = "gust.owner"

// Owners are the container owners (values of OwnerLabel) one test run
// uses. Only the run's own owners go in, so that a sweep never touches the
// containers of another run on the same engine. Safe for concurrent use.
type Owners struct {
	mu     sync.Mutex
	owners []string
}

// Add records owner as one of the run's.
func (o *Owners) Add(owner string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !slices.Contains(o.owners, owner) {
		o.owners = append(o.owners, owner)
	}
}

// Sweep force-removes every container of the run's owners, writes what it
// removed to w (a test left them), and returns how many it removed. With
// no engine reachable it does nothing.
func (o *Owners) Sweep(ctx context.Context, w io.Writer) int {
	o.mu.Lock()
	owners := slices.Clone(o.owners)
	o.mu.Unlock()
	if len(owners) == 0 {
		return 0
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return 0
	}
	defer cli.Close()
	removed := 0
	var names []string
	for _, owner := range owners {
		list, err := cli.ContainerList(ctx, container.ListOptions{All: true,
			Filters: filters.NewArgs(filters.Arg("label", OwnerLabel+"="+owner))})
		if err != nil {
			fmt.Fprintf(w, "dockertest: list containers of %s: %v\n", owner, err)
			continue
		}
		for _, c := range list {
			if c.Labels[OwnerLabel] != owner { // the filter's word, checked
				continue
			}
			if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
				fmt.Fprintf(w, "dockertest: remove container %s: %v\n", c.ID[:12], err)
				continue
			}
			removed++
			names = append(names, strings.TrimPrefix(strings.Join(c.Names, ","), "/"))
		}
	}
	if removed > 0 {
		fmt.Fprintf(w, "dockertest: removed %d containers the tests left: %s\n", removed, strings.Join(names, " "))
	}
	return removed
}

// Main runs the package's tests (m.Run) and then sweeps the containers of
// owners. A test binary that hits its -timeout panics without running
// cleanups or the rest of TestMain, so Main also sweeps a little before
// that deadline. It returns m.Run's exit code, for os.Exit.
func Main(m *testing.M, owners *Owners) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	if d := testTimeout(); d > 0 {
		margin := min(30*time.Second, d/10)
		t := time.AfterFunc(d-margin, func() {
			fmt.Fprintf(os.Stderr, "dockertest: the run is about to time out (-timeout %s): removing its containers\n", d)
			sweep(owners)
		})
		defer t.Stop()
	}
	code := m.Run()
	sweep(owners)
	return code
}

func sweep(owners *Owners) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	owners.Sweep(ctx, os.Stderr)
}

// testTimeout is the test binary's -timeout, 0 when there is none.
func testTimeout() time.Duration {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return 0
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return 0
	}
	d, _ := g.Get().(time.Duration)
	return d
}
