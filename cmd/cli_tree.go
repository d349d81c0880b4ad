package gustcmd

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gusthub/gust/actions"
)

// writeTree prints an activation tree indented, one line per node: ✓ or ✗,
// the kind, the name, the id, the duration and cold/warm; each node's logs
// follow it, indented under it.
func writeTree(w io.Writer, n *actions.TreeNode, p painter) {
	writeNode(w, n, "", "", p)
}

func writeNode(w io.Writer, n *actions.TreeNode, first, rest string, p painter) {
	mark := p.paint(colorGreen, "✓")
	if !n.Success {
		mark = p.paint(colorRed, "✗")
	}
	parts := []string{mark, n.Kind, p.paint(colorBlue, n.Name)}
	if n.Kind == actions.NodeRule && n.Action != "" {
		parts = append(parts, "→", n.Action)
	}
	if n.Attempt > 0 {
		parts = append(parts, fmt.Sprintf("attempt %d", n.Attempt))
	}
	if n.ActivationID != "" {
		parts = append(parts, p.paint(colorDim, n.ActivationID))
	}
	if n.End != 0 {
		parts = append(parts, (time.Duration(n.Duration) * time.Millisecond).String())
	}
	if n.Kind == actions.NodeAction && !n.Missing && !n.NoContainer {
		parts = append(parts, startWord(n.Cold, p))
	}
	if !n.Success && n.Status != "" {
		parts = append(parts, p.paint(colorRed, n.Status))
	}
	fmt.Fprintln(w, first+strings.Join(parts, " "))
	// Under the node's mark, two columns in; a node with children draws
	// their line down past its logs.
	inner := rest + "│ "
	if len(n.Children) == 0 {
		inner = rest + "  "
	}
	if n.Error != "" {
		fmt.Fprintln(w, inner+p.paint(colorRed, n.Error))
	}
	for _, l := range n.Logs {
		fmt.Fprintln(w, inner+p.paint(colorDim, l))
	}
	for i, c := range n.Children {
		if i == len(n.Children)-1 {
			writeNode(w, c, rest+"└─ ", rest+"   ", p)
		} else {
			writeNode(w, c, rest+"├─ ", rest+"│  ", p)
		}
	}
}

// startWord is "cold" for an activation that started a container, else
// "warm".
func startWord(cold bool, p painter) string {
	if cold {
		return p.paint(colorYellow, "cold")
	}
	return p.paint(colorGreen, "warm")
}
