// Command sleep sleeps for an hour: an agent program waiting on something
// that never comes. The wait is one host call (poll_oneoff), which the
// sandbox must cut short at its time limit like a loop.
package main

import "time"

func main() {
	time.Sleep(time.Hour)
}
