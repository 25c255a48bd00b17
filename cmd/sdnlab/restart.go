package main

import (
	"context"
	"os"
)

func restartCommand() *command {
	return &command{
		name:    "restart",
		summary: "start a killed control plane again (node agent or BGP router speaker)",
		usage:   "LAB NODE|ROUTER",
		run: func(ctx context.Context, args []string) error {
			return runControlPlane(ctx, args, os.Stdout, "restart")
		},
	}
}
