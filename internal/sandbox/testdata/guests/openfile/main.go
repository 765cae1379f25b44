// Command openfile tries to read a host file and reports the outcome as JSON,
// so a test can see that the sandbox grants no filesystem.
package main

import (
	"encoding/json"
	"os"
)

func main() {
	result := map[string]string{"outcome": "opened"}
	if _, err := os.ReadFile("/etc/passwd"); err != nil {
		result = map[string]string{"outcome": "failed", "error": err.Error()}
	}
	_ = json.NewEncoder(os.Stdout).Encode(result)
}
