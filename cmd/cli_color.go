package gustcmd

import (
	"io"
	"os"
)

// ANSI colors of the human output.
const (
	colorReset  = "\x1b[0m"
	colorRed    = "\x1b[31m"
	colorGreen  = "\x1b[32m"
	colorYellow = "\x1b[33m"
	colorBlue   = "\x1b[34m"
	colorDim    = "\x1b[2m"
)

// useColor reports whether output to w gets colors: only on a terminal,
// and never when NO_COLOR is set to anything (no-color.org) or TERM is
// "dumb".
func useColor(w io.Writer, getenv func(string) string) bool {
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && isTerminal(f)
}

// painter colors strings when on is set, else leaves them as they are.
type painter struct{ on bool }

func (p painter) paint(color, s string) string {
	if !p.on || s == "" || color == "" {
		return s
	}
	return color + s + colorReset
}
