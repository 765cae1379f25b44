package sandbox

import (
	"errors"
	"fmt"
)

// The parts of the WebAssembly binary format this file reads.
const (
	wasmHeaderLen     = 8
	importSectionID   = 2
	memorySectionID   = 5
	limitsHasMaxFlag  = 0x01
	maxLEB128u32Bytes = 5
)

// Kinds of import, as encoded in the import section.
const (
	importFunc   = 0x00
	importTable  = 0x01
	importMemory = 0x02
	importGlobal = 0x03
	importTag    = 0x04
)

var errTruncated = errors.New("truncated module")

// wasmImport is one entry of a module's import section.
type wasmImport struct {
	module, name string
	kind         byte
}

func (i wasmImport) String() string {
	return i.module + "." + i.name
}

// moduleFacts is what the host must know about a module before running it
// that wazero's API does not show: imports of every kind (it lists only
// functions and memories), and the initial size of memories that are
// defined but not exported.
type moduleFacts struct {
	imports      []wasmImport
	initialPages uint32
}

// scanModule reads the import and memory sections. It expects a module that
// wazero has already compiled, so it checks only what keeps it in bounds.
func scanModule(module []byte) (moduleFacts, error) {
	var facts moduleFacts
	if len(module) < wasmHeaderLen {
		return facts, errTruncated
	}
	r := &byteReader{b: module, pos: wasmHeaderLen}
	for r.pos < len(r.b) {
		id, err := r.byte()
		if err != nil {
			return facts, err
		}
		size, err := r.u32()
		if err != nil {
			return facts, err
		}
		end := r.pos + int(size)
		if end > len(r.b) {
			return facts, errTruncated
		}

		body := &byteReader{b: r.b[:end], pos: r.pos}
		switch id {
		case importSectionID:
			facts.imports, err = readImports(body)
		case memorySectionID:
			facts.initialPages, err = readMemories(body)
		}
		if err != nil {
			return facts, err
		}
		r.pos = end
	}
	return facts, nil
}

func readImports(r *byteReader) ([]wasmImport, error) {
	count, err := r.u32()
	if err != nil {
		return nil, err
	}
	var imports []wasmImport
	for range count {
		var imp wasmImport
		if imp.module, err = r.name(); err != nil {
			return nil, err
		}
		if imp.name, err = r.name(); err != nil {
			return nil, err
		}
		if imp.kind, err = r.byte(); err != nil {
			return nil, err
		}
		if err := r.skipImportDesc(imp.kind); err != nil {
			return nil, err
		}
		imports = append(imports, imp)
	}
	return imports, nil
}

// readMemories returns the largest initial size of the defined memories.
func readMemories(r *byteReader) (uint32, error) {
	count, err := r.u32()
	if err != nil {
		return 0, err
	}
	var largest uint32
	for range count {
		minPages, err := r.limits()
		if err != nil {
			return 0, err
		}
		largest = max(largest, minPages)
	}
	return largest, nil
}

type byteReader struct {
	b   []byte
	pos int
}

func (r *byteReader) byte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, errTruncated
	}
	r.pos++
	return r.b[r.pos-1], nil
}

// u32 reads an unsigned LEB128 value of at most 32 bits.
func (r *byteReader) u32() (uint32, error) {
	var v uint32
	for i := range maxLEB128u32Bytes {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("LEB128 value longer than %d bytes", maxLEB128u32Bytes)
}

func (r *byteReader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	if int(n) > len(r.b)-r.pos {
		return "", errTruncated
	}
	r.pos += int(n)
	return string(r.b[r.pos-int(n) : r.pos]), nil
}

// limits reads a limits pair and returns its minimum.
func (r *byteReader) limits() (uint32, error) {
	flags, err := r.byte()
	if err != nil {
		return 0, err
	}
	minimum, err := r.u32()
	if err != nil {
		return 0, err
	}
	if flags&limitsHasMaxFlag != 0 {
		_, err = r.u32()
	}
	return minimum, err
}

func (r *byteReader) skipImportDesc(kind byte) error {
	var err error
	switch kind {
	case importFunc:
		_, err = r.u32() // type index
	case importTable:
		if _, err = r.byte(); err == nil { // element type
			_, err = r.limits()
		}
	case importMemory:
		_, err = r.limits()
	case importGlobal:
		if _, err = r.byte(); err == nil { // value type
			_, err = r.byte() // mutability
		}
	case importTag:
		if _, err = r.byte(); err == nil { // attribute
			_, err = r.u32() // type index
		}
	default:
		err = fmt.Errorf("unknown import kind %#x", kind)
	}
	return err
}
