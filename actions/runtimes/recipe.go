package runtimes

// A Recipe says how to assemble a runtime image from what is on the local
// machine, so that a fresh machine with a Docker engine and no registry can
// run actions.
type Recipe struct {
	// Kind is the runtime kind the image serves, e.g. "nodejs:20".
	Kind string
	// Tag is the image reference to build, versioned by the content of
	// everything in the image so that a change rebuilds it.
	Tag string
	// Files are copied into the image.
	Files []File
	// Entrypoint is the command that starts the action proxy.
	Entrypoint []string
	// Env is the image's environment.
	Env map[string]string
}

// File is one file of a runtime image: its content comes from HostPath, or
// from Data when HostPath is empty.
type File struct {
	Path     string // path inside the image
	HostPath string
	Data     []byte
	Mode     int64
}
