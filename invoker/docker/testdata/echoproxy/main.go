// Command echoproxy is a tiny OpenWhisk-like action proxy for the docker
// sandbox's tests. It serves /init and /run on :8080 and, when
// $GUST_PROXY_SOCKET is set, also on that Unix socket.
//
// /run echoes its "value" as the result and acts on some of its keys:
//
//	stdout, stderr  lists of lines to print on that stream
//	alloc_mb        allocate and touch this many MiB (to be OOM-killed)
//	spawn           start this many sleeping child processes
//	probe           report uid, gid and whether / and /tmp are writable
//	env             list of environment variables to report
//	quiet           do not print the sentinels
//	fetch           GET this path of $__OW_API_HOST; report its status and body
//
// After each /run it prints the OpenWhisk sentinel on both streams.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"time"
)

const sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sleep" {
		time.Sleep(time.Hour)
		return
	}
	fmt.Println("echoproxy starting")
	fmt.Fprintln(os.Stderr, "echoproxy stderr hello")
	mux := http.NewServeMux()
	inited := false
	mux.HandleFunc("POST /init", func(w http.ResponseWriter, r *http.Request) {
		if inited {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"error":"Cannot initialize the action more than once."}`)
			return
		}
		inited = true
		fmt.Fprint(w, `{"ok":true}`)
	})
	mux.HandleFunc("POST /run", run)
	if p := os.Getenv("GUST_PROXY_SOCKET"); p != "" {
		os.Remove(p)
		l, err := net.Listen("unix", p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "listen:", err)
			os.Exit(1)
		}
		os.Chmod(p, 0o666)
		go http.Serve(l, mux)
	}
	if err := http.ListenAndServe(":8080", mux); err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
}

func run(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Value map[string]json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":%q}`, err.Error())
		return
	}
	if _, quiet := req.Value["quiet"]; !quiet {
		defer func() {
			fmt.Println(sentinel)
			fmt.Fprintln(os.Stderr, sentinel)
		}()
	}
	res := map[string]any{}
	for k, v := range req.Value {
		res[k] = v
	}
	var lines []string
	if json.Unmarshal(req.Value["stdout"], &lines) == nil {
		for _, l := range lines {
			fmt.Println(l)
		}
	}
	lines = nil
	if json.Unmarshal(req.Value["stderr"], &lines) == nil {
		for _, l := range lines {
			fmt.Fprintln(os.Stderr, l)
		}
	}
	var n int
	if json.Unmarshal(req.Value["alloc_mb"], &n) == nil && n > 0 {
		var keep [][]byte
		for i := 0; i < n; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			keep = append(keep, b)
		}
		res["allocated"] = len(keep)
	}
	n = 0
	if json.Unmarshal(req.Value["spawn"], &n) == nil && n > 0 {
		started := 0
		var spawnErr string
		var cmds []*exec.Cmd
		for i := 0; i < n; i++ {
			c := exec.Command("/proc/self/exe", "sleep")
			c.Env = []string{"GOMAXPROCS=1"}
			if err := c.Start(); err != nil {
				spawnErr = err.Error()
				break
			}
			cmds = append(cmds, c)
			started++
		}
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
		res["spawned"] = started
		res["spawn_error"] = spawnErr
	}
	if _, ok := req.Value["probe"]; ok {
		res["uid"] = os.Getuid()
		res["gid"] = os.Getgid()
		res["root_writable"] = os.WriteFile("/probe", []byte("x"), 0o644) == nil
		res["tmp_writable"] = os.WriteFile("/tmp/probe", []byte("x"), 0o644) == nil
	}
	var names []string
	if json.Unmarshal(req.Value["env"], &names) == nil {
		env := map[string]string{}
		for _, k := range names {
			env[k] = os.Getenv(k)
		}
		res["env"] = env
	}
	var path string
	if json.Unmarshal(req.Value["fetch"], &path) == nil && path != "" {
		resp, err := http.Get(os.Getenv("__OW_API_HOST") + path)
		if err != nil {
			res["fetch_error"] = err.Error()
		} else {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			res["fetch_status"] = resp.StatusCode
			res["fetch_body"] = string(body)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}
