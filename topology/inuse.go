package topology

import (
	"fmt"
	"os"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// CheckLabName reports whether name is a valid lab name (as the name:
// field of a lab file and the --name flag must be).
func CheckLabName(name string) error {
	if !labNameRE.MatchString(name) {
		return fmt.Errorf("%q: a lab name is 1-%d lower-case letters and digits (no '-': it separates the parts of namespace names)", name, maxLabName)
	}
	return nil
}

// InUseError is returned by Up when a lab of the same name is already up
// from another lab file (or from a file up cannot tell): bringing it up
// would take the running lab over and leave its guests behind. It is bad
// input (CLI exit code 2).
type InUseError struct {
	Lab string
	// File is the running lab's lab file ("" when its state is unreadable).
	File string
}

func (e *InUseError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("lab %s has namespaces but no readable state: bring it down first (sdnlab down %s)", e.Lab, e.Lab)
	}
	return fmt.Sprintf("lab %s is already up from %s: bring it down first (sdnlab down %s)", e.Lab, e.File, e.Lab)
}

// BadInput marks the error as bad input (CLI exit code 2).
func (e *InUseError) BadInput() bool { return true }

// CheckTakeover returns an *InUseError when a lab named lab.Name is up from
// another lab file than lab.File. Up with the same file is allowed (up is
// idempotent: it applies the difference); nothing running is allowed.
func CheckTakeover(lab *Lab, opts Options) error {
	if !LabExists(opts, lab.Name) {
		return nil
	}
	running, err := ReadState(opts.StateDir, lab.Name)
	if err != nil {
		// A state directory without lab.json and without namespaces is
		// an up that died before writing anything: nothing to take over.
		if names, lerr := nsutil.List(NSPrefix(lab.Name)); lerr == nil && len(names) == 0 {
			return nil
		}
		return &InUseError{Lab: lab.Name}
	}
	if sameFile(running.File, lab.File) {
		return nil
	}
	return &InUseError{Lab: lab.Name, File: running.File}
}

// sameFile compares two absolute lab file paths, and if they differ as
// strings, whether they name the same file (a symlink, a bind mount).
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
