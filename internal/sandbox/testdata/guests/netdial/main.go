// Command netdial tries to open a TCP connection and reports the outcome as
// JSON, so a test can see that the sandbox grants no network.
package main

import (
	"encoding/json"
	"net"
	"os"
)

func main() {
	result := map[string]string{"outcome": "connected"}
	conn, err := net.Dial("tcp", "127.0.0.1:80")
	if err != nil {
		result = map[string]string{"outcome": "failed", "error": err.Error()}
	} else {
		_ = conn.Close()
	}
	_ = json.NewEncoder(os.Stdout).Encode(result)
}
