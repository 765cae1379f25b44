package sandbox

import (
	"context"
	"errors"
	"fmt"
)

func ExampleRunner_Run() {
	r, err := New(DefaultLimits())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close(context.Background())

	// helloModule stands for the bytes an agent sends, base64-decoded.
	res, err := r.Run(context.Background(), helloModule(""), []byte(`{}`))
	switch {
	case IsSecurityViolation(err):
		fmt.Println("audit as security_violation:", err)
	case errors.Is(err, &LimitError{}):
		fmt.Println("limit hit:", res.LimitHit)
	case err != nil:
		fmt.Println("refused:", err)
	default:
		fmt.Printf("exit %d: %s", res.ExitCode, res.Stdout)
	}
	// Output: exit 0: {"ok":true}
}
