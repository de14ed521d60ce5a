package security

import "testing"

// BenchmarkSealedExecutable is what the copy of the runtime costs each
// start (here, of the test binary, which is about boxcraft's size).
func BenchmarkSealedExecutable(b *testing.B) {
	for range b.N {
		f, err := SealedExecutable()
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkReadOnlyExecutable is the read-only bind's cost.
func BenchmarkReadOnlyExecutable(b *testing.B) {
	for range b.N {
		f, err := ReadOnlyExecutable()
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
