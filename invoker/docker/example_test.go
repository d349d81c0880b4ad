package docker_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gusthub/gust/actions/runtimes"
	"github.com/gusthub/gust/invoker"
	"github.com/gusthub/gust/invoker/docker"
)

// The invoker builds its runtime image once, then creates containers that
// it reaches through their proxy socket.
func Example() {
	ctx := context.Background()
	sb, err := docker.New(docker.Options{Logger: slog.Default()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sb.Close()

	recipe := runtimes.Recipe{
		Kind:       "nodejs:20",
		Tag:        "gust/runtime-nodejs-20:3f2a9c",
		Files:      []runtimes.File{{Path: "/bin/proxy", HostPath: "/usr/lib/gust/proxy", Mode: 0o755}},
		Entrypoint: []string{"/bin/proxy"},
	}
	if err := sb.EnsureImage(ctx, recipe); err != nil {
		fmt.Println(err)
		return
	}
	c, err := sb.Create(ctx, invoker.Spec{
		Name: "gust-inv0-1", Owner: "inv0", Kind: recipe.Kind, Image: recipe.Tag,
		MemoryMB: 256, ProxySocket: true,
		Labels: map[string]string{"namespace": "guest", "action": "hello"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Destroy(ctx)
	go func() {
		for range c.Logs() { // keep draining
		}
	}()
	resp, err := c.Client().Post(c.BaseURL()+"/init", "application/json", strings.NewReader(`{"value":{"code":"..."}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
}
