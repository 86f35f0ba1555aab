package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newServeCmd is a placeholder until the broker's serve command lands here.
func newServeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run a Samsa node (not yet built)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("samsa serve is not yet built")
		},
	}
}
