package guard

import (
	"encoding/json"
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
	count  int    // elements of an array, keys of an object
	key    []byte // the object's current key, a slice of the body
}

// CheckJSON returns an *InputError for the first value of data that breaks
// a limit. It checks syntax with json.Valid and then walks the bytes once,
// without building any value, so a hostile body costs a scan and no
// allocation beyond the open frames. String lengths are counted as sent,
// escapes included.
func CheckJSON(data []byte, lim Limits) error {
	if int64(len(data)) > lim.MaxBodyBytes {
		return &InputError{Limit: "body_bytes", Max: lim.MaxBodyBytes, Path: "$"}
	}
	if !json.Valid(data) {
		return &InputError{Limit: "syntax", Path: "$"}
	}
	stack := make([]frame, 0, 8)
	for i := 0; i < len(data); i++ {
		var err error
		switch c := data[i]; c {
		case '{', '[':
			if err = startValue(stack, lim); err == nil {
				if len(stack)+1 > lim.MaxDepth {
					return &InputError{Limit: "depth", Max: int64(lim.MaxDepth), Path: path(stack)}
				}
				stack = append(stack, frame{object: c == '{'})
			}
		case '}', ']':
			stack = stack[:len(stack)-1]
		case '"':
			i, err = scanString(data, i, stack, lim)
		case ',', ':', ' ', '\t', '\n', '\r':
		default: // a number, true, false or null
			err = startValue(stack, lim)
			for i+1 < len(data) && !isDelimiter(data[i+1]) {
				i++
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func isDelimiter(c byte) bool {
	return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// startValue counts a value that begins in the innermost array.
func startValue(stack []frame, lim Limits) error {
	if len(stack) == 0 || stack[len(stack)-1].object {
		return nil
	}
	top := &stack[len(stack)-1]
	top.count++
	if top.count > lim.MaxListLength {
		return &InputError{Limit: "list_length", Max: int64(lim.MaxListLength), Path: path(stack)}
	}
	return nil
}

// scanString checks the string starting at data[i] and returns the index
// of its closing quote. A string directly inside an object followed by a
// colon is a key.
func scanString(data []byte, i int, stack []frame, lim Limits) (int, error) {
	end := i + 1
	for data[end] != '"' {
		if data[end] == '\\' {
			end++
		}
		end++
	}
	n := end - i - 1
	inObject := len(stack) > 0 && stack[len(stack)-1].object
	if inObject && isKey(data, end+1) {
		top := &stack[len(stack)-1]
		top.count++
		switch {
		case n > lim.MaxStringBytes:
			// Refused before it can appear in a path.
			return end, &InputError{Limit: "string_bytes", Max: int64(lim.MaxStringBytes), Path: path(stack)}
		case top.count > lim.MaxObjectKeys:
			top.key = data[i+1 : end]
			return end, &InputError{Limit: "object_keys", Max: int64(lim.MaxObjectKeys), Path: path(stack)}
		}
		top.key = data[i+1 : end]
		return end, nil
	}
	if err := startValue(stack, lim); err != nil {
		return end, err
	}
	if n > lim.MaxStringBytes {
		return end, &InputError{Limit: "string_bytes", Max: int64(lim.MaxStringBytes), Path: path(stack)}
	}
	return end, nil
}

// isKey reports whether the next significant byte from j is a colon.
func isKey(data []byte, j int) bool {
	for ; j < len(data); j++ {
		switch data[j] {
		case ' ', '\t', '\n', '\r':
			continue
		case ':':
			return true
		}
		return false
	}
	return false
}

// path renders the open frames as a JSONPath-like location.
func path(s []frame) string {
	b := []byte("$")
	for _, f := range s {
		if f.object {
			if len(f.key) > 0 {
				b = append(append(b, '.'), Clip(string(f.key))...)
			}
			continue
		}
		b = append(append(append(b, '['), strconv.Itoa(max(f.count-1, 0))...), ']')
	}
	return string(b)
}
