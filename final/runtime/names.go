package runtime

import (
	"math/rand/v2"
	"strconv"
)

// Docker names a container it is not given a name for from an adjective
// and a scientist; boxcraft from an adjective and a part of a container's
// story.
var (
	adjectives = []string{"brave", "calm", "clever", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid",
		"merry", "nifty", "proud", "quiet", "sharp", "sleepy", "swift", "tender", "vivid", "witty"}
	nouns = []string{"anchor", "bridge", "cargo", "crane", "dock", "ferry", "harbor", "hull", "keel", "lighthouse",
		"mast", "pier", "quay", "rudder", "sail", "schooner", "tug", "vessel", "wharf", "yard"}
)

// freeName picks a name that no container has; the caller holds the lock.
func (r *Runtime) freeName() string {
	for i := 0; ; i++ {
		name := adjectives[rand.IntN(len(adjectives))] + "_" + nouns[rand.IntN(len(nouns))]
		if i > 20 {
			name += "_" + strconv.Itoa(rand.IntN(1000))
		}
		if _, taken := r.Dirs.NameTaken(name); !taken {
			return name
		}
	}
}
