package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionInfo is what `samsa version` reports, from the build information
// the Go toolchain stamps into the binary.
type versionInfo struct {
	// Version is the module version (v1.2.3 when installed with go
	// install ...@v1.2.3), or "devel" for a build from a checkout.
	Version string `json:"version" yaml:"version"`
	// Commit is the VCS revision built, null when the build did not record
	// one (a build outside a checkout, or with -buildvcs=false).
	Commit *string `json:"commit" yaml:"commit"`
	// Modified says the checkout had uncommitted changes.
	Modified bool   `json:"modified" yaml:"modified"`
	Go       string `json:"go" yaml:"go"`
	Platform string `json:"platform" yaml:"platform"`
}

func buildVersion() versionInfo {
	bi, ok := debug.ReadBuildInfo()
	return versionFrom(bi, ok)
}

func versionFrom(bi *debug.BuildInfo, ok bool) versionInfo {
	v := versionInfo{Version: "devel", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if !ok || bi == nil {
		return v
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if s.Value != "" {
				c := s.Value
				v.Commit = &c
			}
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the one line `samsa version` and `samsa --version` print.
func (v versionInfo) String() string {
	commit := "commit unknown"
	if v.Commit != nil {
		c := *v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		commit = "commit " + c
		if v.Modified {
			commit += ", modified"
		}
	}
	return fmt.Sprintf("samsa %s (%s; %s %s)", v.Version, commit, v.Go, v.Platform)
}

func newVersionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version and VCS commit this binary was built from",
		Long: `Print the version and VCS commit this binary was built from, as the Go
toolchain recorded them: "devel" for a build from a checkout (a release
installed with go install prints its version), and the commit with
"modified" when the checkout had uncommitted changes.`,
		Args: exactArgs(0, "no arguments"),
	}
	of := addOutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		v := buildVersion()
		return of.print(cmd.OutOrStdout(), v, func(bool) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), v)
			return err
		})
	}
	return cmd
}
