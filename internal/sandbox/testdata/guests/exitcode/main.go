// Command exitcode writes a diagnostic and exits with status 3, so a test can
// see a non-zero exit reported as a result rather than a host error.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "giving up on purpose")
	os.Exit(3)
}
