// Command membomb keeps allocating and holding memory until the host refuses
// to grow its linear memory.
package main

var held [][]byte

func main() {
	for {
		chunk := make([]byte, 1<<20)
		for i := range chunk {
			chunk[i] = byte(i)
		}
		held = append(held, chunk)
	}
}
