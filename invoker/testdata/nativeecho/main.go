// Command nativeecho is a native action for the invoker's tests: it logs
// one line and answers {"echo": <its parameters>}.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	params := map[string]any{}
	if len(os.Args) > 1 {
		_ = json.Unmarshal([]byte(os.Args[1]), &params)
	}
	b, _ := json.Marshal(map[string]any{"echo": params})
	fmt.Println("native says hi")
	fmt.Println(string(b))
}
