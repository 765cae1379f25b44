package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
)

// Limits bound the size and shape of a request body.
type Limits struct {
	MaxBodyBytes   int64
	MaxDepth       int
	MaxStringBytes int
	MaxListLength  int
	MaxObjectKeys  int
}

// DefaultLimits fit the memory tools: a step or reflection is text of a few
// kilobytes, a bulk request lists at most thousands of episodes.
func DefaultLimits() Limits {
	return Limits{MaxBodyBytes: 4 << 20, MaxDepth: 32, MaxStringBytes: 1 << 20,
		MaxListLength: 10_000, MaxObjectKeys: 1_000}
}

// frame is one open object or array.
type frame struct {
	object bool
	count  int
	key    string
}

// CheckJSON walks data once and returns an *InputError for the first value
// that breaks a limit. It never builds the values, so a hostile body costs
// only a scan.
func CheckJSON(data []byte, lim Limits) error {
	if int64(len(data)) > lim.MaxBodyBytes {
		return &InputError{Limit: "body_bytes", Max: lim.MaxBodyBytes, Path: "$"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if len(stack) > 0 {
				return &InputError{Limit: "syntax", Path: path(stack)}
			}
			return nil
		}
		if err != nil {
			return &InputError{Limit: "syntax", Path: path(stack)}
		}
		if err := step(&stack, tok, dec, lim); err != nil {
			return err
		}
	}
}

func step(stack *[]frame, tok json.Token, dec *json.Decoder, lim Limits) error {
	s := *stack
	isKey := len(s) > 0 && s[len(s)-1].object && s[len(s)-1].count%2 == 0
	if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
		*stack = s[:len(s)-1]
		return nil
	}
	if len(s) > 0 {
		top := &s[len(s)-1]
		if isKey {
			// A key over the limit is refused before it can appear in a path.
			if k, _ := tok.(string); len(k) <= lim.MaxStringBytes {
				top.key = k
			} else {
				return &InputError{Limit: "string_bytes", Max: int64(lim.MaxStringBytes), Path: path(s)}
			}
		}
		top.count++
		if err := checkCount(top, lim, s); err != nil {
			return err
		}
	}
	switch v := tok.(type) {
	case json.Delim:
		if len(s)+1 > lim.MaxDepth {
			return &InputError{Limit: "depth", Max: int64(lim.MaxDepth), Path: path(s)}
		}
		*stack = append(s, frame{object: v == '{'})
	case string:
		if len(v) > lim.MaxStringBytes {
			return &InputError{Limit: "string_bytes", Max: int64(lim.MaxStringBytes), Path: path(s)}
		}
	}
	return nil
}

func checkCount(top *frame, lim Limits, s []frame) error {
	if top.object && (top.count+1)/2 > lim.MaxObjectKeys {
		return &InputError{Limit: "object_keys", Max: int64(lim.MaxObjectKeys), Path: path(s)}
	}
	if !top.object && top.count > lim.MaxListLength {
		return &InputError{Limit: "list_length", Max: int64(lim.MaxListLength), Path: path(s)}
	}
	return nil
}

// path renders the open frames as a JSONPath-like location.
func path(s []frame) string {
	b := []byte("$")
	for _, f := range s {
		if f.object {
			if f.key != "" {
				b = append(append(b, '.'), f.key...)
			}
			continue
		}
		b = append(append(append(b, '['), strconv.Itoa(max(f.count-1, 0))...), ']')
	}
	return string(b)
}
