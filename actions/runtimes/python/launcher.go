package python

import _ "embed"

// Launcher is the source of launcher.py. Run it as `python3 launcher.py`
// with the environment the action proxy sets up.
//
//go:embed launcher.py
var Launcher []byte

// LauncherName is the file name under which Launcher is installed.
const LauncherName = "launcher.py"

// SourceName is the file name the action proxy gives to plain-text code.
const SourceName = "__main__.py"
