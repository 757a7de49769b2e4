// Package version tells which kyso this is.
package version

import "runtime/debug"

// Version is set at link time (-ldflags "-X github.com/kyso-pki/kyso/internal/version.Version=v0.1.0");
// otherwise it is read from the module's build information.
var Version = ""

// String returns the version, "devel" plus the VCS revision when unknown.
func String() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev := ""
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			rev = "+" + s.Value[:12]
		}
	}
	return "devel" + rev
}
