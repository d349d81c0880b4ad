// Command readyfloor is the floor of gust serve's start-to-ready benchmark:
// a bare Go HTTP server that answers GET /api/v1 as soon as it listens.
package main

import (
	"io"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/api/v1", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"api_version":"1.0.0"}`)
	})
	if err := http.ListenAndServe(os.Args[1], nil); err != nil {
		os.Exit(1)
	}
}
