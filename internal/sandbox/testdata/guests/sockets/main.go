// Command sockets tries to reach the network the only way WASI preview 1
// allows, accepting a connection on a socket the host opened for it, and
// reports the outcome as JSON, so a test can see that the sandbox grants no
// network.
//
// It does not use net.Dial: on wasip1 that dials an in-process fake network
// and never asks the host, so its failure would prove nothing.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// Preopened sockets and directories follow stdin, stdout and stderr; a host
// granting any would number them from 3.
const firstPreopen, lastProbed = 3, 16

func main() {
	result := map[string]string{"outcome": "failed"}
	var seen []string
	for fd := firstPreopen; fd <= lastProbed; fd++ {
		// sock_accept, a host call: EBADF means no such descriptor.
		newfd, _, err := syscall.Accept(fd)
		if err == nil {
			_ = syscall.Close(newfd)
		}
		if !errors.Is(err, syscall.EBADF) {
			result["outcome"] = "socket"
		}
		seen = append(seen, fmt.Sprintf("sock_accept(%d): %v", fd, err))
	}
	result["error"] = strings.Join(seen, "; ")
	_ = json.NewEncoder(os.Stdout).Encode(result)
}
