package main

import (
	"fmt"
	"os"
	"testing"
)

// Commands on a lab that is not up: exec and status are bad input (exit
// code 2) with a message; down has nothing to do and succeeds (exit 0), so
// cleanup scripts can always call it.
func TestLabNotUp(t *testing.T) {
	name := fmt.Sprintf("nx%d", os.Getpid())
	state := t.TempDir()
	t.Setenv("SDNLAB_STATE", state)
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"exec", name, "node1", "--", "true"}, exitBadInput},
		{[]string{"status", name, "--state", state}, exitBadInput},
		{[]string{"down", name, "--state", state}, exitOK},
		{[]string{"exec", name}, exitBadInput},
	} {
		if got := run(c.args); got != c.want {
			t.Errorf("sdnlab %v: exit %d, want %d", c.args, got, c.want)
		}
	}
}
