package topology

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sdnlab/sdnlab/topology/impair"
)

// Impairment is an impairment in force on one interface of a running lab.
type Impairment struct {
	Thing  string      `json:"thing"`
	NS     string      `json:"ns"`
	Ifname string      `json:"ifname"`
	Spec   impair.Spec `json:"spec"`
	// How: "netem" or "ebpf" (with "paced" for delay, jitter and rate).
	How string `json:"how"`
}

func impairmentsFile(stateDir, lab string) string {
	if stateDir == "" {
		stateDir = DefaultStateDir
	}
	return filepath.Join(stateDir, lab, "impairments.json")
}

// ReadImpairments lists the impairments recorded for a running lab.
func ReadImpairments(stateDir, lab string) ([]Impairment, error) {
	b, err := os.ReadFile(impairmentsFile(stateDir, lab))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Impairment
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func writeImpairments(stateDir, lab string, l []Impairment) error {
	return writeJSON(impairmentsFile(stateDir, lab), l)
}
