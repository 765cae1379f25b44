// Command jsontransform reads {"numbers": [...]} on stdin and writes their
// count and sum as JSON on stdout: the shape of a typical agent program.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

type input struct {
	Numbers []float64 `json:"numbers"`
}

type output struct {
	Count int     `json:"count"`
	Sum   float64 `json:"sum"`
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "decoding input:", err)
		os.Exit(1)
	}

	out := output{Count: len(in.Numbers)}
	for _, n := range in.Numbers {
		out.Sum += n
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "encoding output:", err)
		os.Exit(1)
	}
}
