package main

// The built-in actions compiled into gust (run by the invoker in Go).
import (
	_ "github.com/gusthub/gust/actions/builtins"
)
