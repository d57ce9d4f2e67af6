//go:build !unix

package recordcache

func allocArena(n int) []byte { return make([]byte, n) }

func freeArena([]byte) {}
