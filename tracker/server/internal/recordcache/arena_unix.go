//go:build unix

package recordcache

import "syscall"

// allocArena returns n bytes of zeroed memory outside the Go heap. The
// cache's bytes hold no pointers, so the garbage collector has no reason
// to see them, and kept out of the heap they neither count towards the
// heap goal (which would let the collector wait for twice as much garbage
// before running) nor linger after freeArena: RSS is what the cache holds.
func allocArena(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n) // out of address space: let the heap try
	}
	return b
}

// freeArena returns b, from allocArena, to the system. Nothing may use b
// afterwards.
func freeArena(b []byte) {
	if len(b) > 0 {
		// An error means b came from make (allocArena's fallback); the
		// collector frees it.
		_ = syscall.Munmap(b)
	}
}
