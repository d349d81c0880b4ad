package nodejs

import _ "embed"

// Launcher is the source of launcher.js. Run it as `node launcher.js` with
// the environment the action proxy sets up.
//
//go:embed launcher.js
var Launcher []byte

// LauncherName is the file name under which Launcher is installed.
const LauncherName = "launcher.js"

// SourceName is the file name the action proxy gives to plain-text code.
const SourceName = "index.js"
