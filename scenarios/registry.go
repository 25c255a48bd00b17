package scenarios

import (
	"fmt"
	"sort"
	"strings"
)

// All returns one fresh instance of every built-in scenario, in the order
// a full run (sdnlab demo) executes them: read-only checks first, then the
// ones that move guests, then the ones that break the lab.
func All() []Scenario {
	return []Scenario{
		newBUMReplication(),
		newARPNDSuppression(),
		newTenantIsolation(),
		newVLANIsolation(),
		newPortIsolation(),
		newDHCP(),
		newMTU(),
		newAnycastGateway(),
		newSNAT(),
		newVXLANInjection(),
		newURPF(),
		newWireGuardFabric(),
		newEVPNControlPlane(),
		newVMLiveMigration(),
		newCrossRackMigration(),
		newBGPOnlyWorkaround(),
		newFabricLinkFailure(),
		newExitNodeFailover(),
	}
}

// Lookup returns the built-in scenario with that name.
func Lookup(name string) (Scenario, error) {
	var names []string
	for _, s := range All() {
		if s.Name() == name {
			return s, nil
		}
		names = append(names, s.Name())
	}
	sort.Strings(names)
	return nil, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(names, ", "))
}
