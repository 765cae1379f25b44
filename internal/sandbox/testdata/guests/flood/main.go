// Command flood writes to stdout without end, to exercise the output cap.
package main

import (
	"bytes"
	"os"
)

func main() {
	line := append(bytes.Repeat([]byte("x"), 1023), '\n')
	for {
		// A write error is ignored on purpose: the host must stop the
		// program, not rely on the program noticing.
		_, _ = os.Stdout.Write(line)
	}
}
