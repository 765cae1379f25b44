// Command membomb keeps allocating and holding memory until the host refuses
// to grow its linear memory.
package main

var held [][]byte

func main() {
	for {
		chunk := make([]byte, 1<<20)
		// Touch every page so no layer can skip the work.
		for i := 0; i < len(chunk); i += 4096 {
			chunk[i] = 1
		}
		held = append(held, chunk)
	}
}
