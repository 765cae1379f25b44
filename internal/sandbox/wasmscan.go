package sandbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// The parts of the WebAssembly binary format this file reads.
const (
	wasmHeaderLen     = 8
	importSectionID   = 2
	tableSectionID    = 4
	memorySectionID   = 5
	limitsHasMaxFlag  = 0x01
	maxLEB128u32Bytes = 5
	// tableInitPrefix starts a table with an initializer expression
	// (function references proposal).
	tableInitPrefix = 0x40
	// Reference types written as a prefix and a heap type.
	refNullablePrefix    = 0x63
	refNonNullablePrefix = 0x64
)

// wasmHeader is the magic number and version 1 of the binary format.
var wasmHeader = []byte("\x00asm\x01\x00\x00\x00")

// tableEntryBytes is what wazero spends on one table entry (a uintptr).
const tableEntryBytes = 8

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
// functions and memories), the initial size of memories that are defined
// but not exported, and how large the tables may become.
type moduleFacts struct {
	imports      []wasmImport
	initialPages uint32
	// tableEntries is the sum of the tables' maximum sizes.
	tableEntries uint64
	// bounded is the module to compile: the input, with a maximum given to
	// every table that declared none.
	bounded []byte
}

// scanModule reads the import, table and memory sections of a module not
// yet validated, checking only what keeps it in bounds: wazero validates
// the rest when it compiles facts.bounded.
//
// Tables live in host memory that memoryGuard does not see, and wazero
// grows a table without a maximum up to 2^32 entries, 32 GiB, at one
// table.grow. So a table without a maximum is given its minimum as the
// maximum, and the maximums count against the memory limit. Go declares
// its table without a maximum and never grows it; wasm-ld (Rust, C) gives
// tables a maximum unless told --growable-table.
func scanModule(module []byte) (moduleFacts, error) {
	facts := moduleFacts{bounded: module}
	if !bytes.HasPrefix(module, wasmHeader) {
		return facts, errors.New("not a WebAssembly 1.0 binary (bad magic number or version)")
	}
	r := &byteReader{b: module, pos: wasmHeaderLen}
	for r.pos < len(r.b) {
		start := r.pos
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
		case tableSectionID:
			if len(facts.bounded) != len(module) {
				// start and end are offsets into module, not into bounded.
				return facts, errors.New("more than one table section")
			}
			err = boundTables(&facts, body, start, end)
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

// boundTables sums the tables' maximums into facts and, when a table has
// none, replaces the section at module[start:end] in facts.bounded with one
// where every table has a maximum.
func boundTables(facts *moduleFacts, r *byteReader, start, end int) error {
	count, err := r.u32()
	if err != nil {
		return err
	}
	out := binary.AppendUvarint(nil, uint64(count))
	rewritten := false
	for range count {
		refStart := r.pos
		if err := r.skipRefType(); err != nil {
			return err
		}
		out = append(out, r.b[refStart:r.pos]...)
		flags, err := r.byte()
		if err != nil {
			return err
		}
		minimum, err := r.u32()
		if err != nil {
			return err
		}
		maximum := minimum
		if flags&limitsHasMaxFlag != 0 {
			if maximum, err = r.u32(); err != nil {
				return err
			}
		}
		rewritten = rewritten || flags&limitsHasMaxFlag == 0
		facts.tableEntries += uint64(maximum)
		out = append(out, flags|limitsHasMaxFlag)
		out = binary.AppendUvarint(out, uint64(minimum))
		out = binary.AppendUvarint(out, uint64(maximum))
	}
	if !rewritten {
		return nil
	}
	// The trailing bytes, if any, are kept for wazero to refuse.
	out = append(out, r.b[r.pos:end]...)
	module := facts.bounded
	bounded := append([]byte(nil), module[:start]...)
	bounded = append(bounded, tableSectionID)
	bounded = binary.AppendUvarint(bounded, uint64(len(out)))
	bounded = append(bounded, out...)
	facts.bounded = append(bounded, module[end:]...)
	return nil
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

// skipRefType skips the reference type of a table.
func (r *byteReader) skipRefType() error {
	b, err := r.byte()
	switch {
	case err != nil:
		return err
	case b == tableInitPrefix:
		return errors.New("tables with initializer expressions are not supported")
	case b == refNullablePrefix || b == refNonNullablePrefix:
		_, err = r.u32() // heap type, a signed LEB128 of at most 5 bytes
	}
	return err
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
