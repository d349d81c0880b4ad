package dockertest_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/gusthub/gust/internal/dockertest"
)

// TestSweepRemovesOnlyTheRunsOwners: a sweep removes the containers of the
// owners added, and leaves another run's on the same engine.
func TestSweepRemovesOnlyTheRunsOwners(t *testing.T) {
	dockertest.Require(t, nil)
	ctx := t.Context()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	run := randomID()
	ref := "gust-test/dockertest:" + run
	importImage(t, cli, ref)
	create := func(owner string) string {
		c, err := cli.ContainerCreate(ctx, &container.Config{Image: ref, Cmd: []string{"/none"},
			Labels: map[string]string{dockertest.OwnerLabel: owner}}, nil, nil, nil, "gust-dockertest-"+owner+"-"+randomID())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true})
		})
		return c.ID
	}
	mine, other := "gust-dt-"+run, "gust-dt-"+run+"-other"
	ours := []string{create(mine), create(mine)}
	theirs := create(other)

	var owners dockertest.Owners
	owners.Add(mine)
	owners.Add(mine)
	var out bytes.Buffer
	if n := owners.Sweep(ctx, &out); n != 2 {
		t.Errorf("swept %d containers, want 2 (%s)", n, out.String())
	}
	if !strings.Contains(out.String(), "removed 2 containers the tests left") {
		t.Errorf("sweep output = %q, want it to say what it removed", out.String())
	}
	for _, id := range ours {
		if _, err := cli.ContainerInspect(ctx, id); !errdefs.IsNotFound(err) {
			t.Errorf("container %s of the run: %v, want it removed", id[:12], err)
		}
	}
	if _, err := cli.ContainerInspect(ctx, theirs); err != nil {
		t.Errorf("another run's container: %v, want it left", err)
	}
	out.Reset()
	if n := owners.Sweep(ctx, &out); n != 0 || out.Len() != 0 {
		t.Errorf("second sweep removed %d: %q", n, out.String())
	}
}

// importImage makes an image of one empty file, removed when t ends.
func importImage(t *testing.T, cli *client.Client, ref string) {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: "none", Mode: 0o755, Size: 0}); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	rc, err := cli.ImageImport(t.Context(), image.ImportSource{Source: &b, SourceName: "-"}, ref, image.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, rc)
	rc.Close()
	t.Cleanup(func() {
		_, _ = cli.ImageRemove(context.Background(), ref, image.RemoveOptions{Force: true})
	})
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
