package sandbox

import (
	"bytes"
)

// cappedBuffer collects one output stream of a run up to a byte limit. The
// first write past the limit stops the run through stop: the guest may well
// ignore a write error and keep writing, so the host must end it.
type cappedBuffer struct {
	buf      bytes.Buffer
	limit    int64
	stop     func(cause error)
	limitErr *LimitError
	over     bool
}

func newCappedBuffer(limit int64, stop func(error), limitErr *LimitError) *cappedBuffer {
	return &cappedBuffer{limit: limit, stop: stop, limitErr: limitErr}
}

// Write implements io.Writer, keeping what fits and refusing the rest.
func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.over {
		return 0, c.limitErr
	}
	room := c.limit - int64(c.buf.Len())
	if int64(len(p)) <= room {
		return c.buf.Write(p)
	}

	c.buf.Write(p[:room])
	c.over = true
	c.stop(c.limitErr)
	return int(room), c.limitErr
}

func (c *cappedBuffer) Bytes() []byte {
	return c.buf.Bytes()
}
