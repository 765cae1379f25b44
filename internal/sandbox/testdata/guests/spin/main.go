// Command spin never returns: it stands for an agent program stuck in a loop,
// which only the sandbox's time limit can end.
package main

var counter uint64

func main() {
	for {
		counter++
	}
}
