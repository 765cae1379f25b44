package sandbox

import "encoding/binary"

// Hand-assembled modules let tests show what no compiler emits on purpose:
// forbidden imports, oversized memories, modules without _start.

const (
	secType     = 1
	secImport   = 2
	secFunction = 3
	secTable    = 4
	secMemory   = 5
	secExport   = 7
	secCode     = 10
	secData     = 11
	secCustom   = 0

	valI32   = 0x7f
	funcForm = 0x60

	opUnreachable = 0x00
	opIf          = 0x04
	opCall        = 0x10
	opDrop        = 0x1a
	opI32Const    = 0x41
	opI32Ne       = 0x47
	opRefNull     = 0xd0
	opPrefixFC    = 0xfc
	opEnd         = 0x0b

	blockEmpty  = 0x40
	refFunc     = 0x70
	fcTableGrow = 15
)

func uleb(v uint32) []byte {
	return binary.AppendUvarint(nil, uint64(v))
}

func vec(items ...[]byte) []byte {
	out := uleb(uint32(len(items)))
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

func wname(s string) []byte {
	return append(uleb(uint32(len(s))), s...)
}

func section(id byte, body []byte) []byte {
	return append(append([]byte{id}, uleb(uint32(len(body)))...), body...)
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func wasmModule(sections ...[]byte) []byte {
	return cat(append([][]byte{[]byte("\x00asm\x01\x00\x00\x00")}, sections...)...)
}

// i32const encodes small non-negative constants only, which is all the
// modules here need.
func i32const(v byte) []byte {
	return []byte{opI32Const, v}
}

var emptyFuncType = cat([]byte{funcForm}, vec(), vec())

// importingModule imports one function of type () -> () from module.name
// and exports an empty _start.
func importingModule(module, name string) []byte {
	return wasmModule(
		section(secType, vec(emptyFuncType)),
		section(secImport, vec(cat(wname(module), wname(name), []byte{0x00}, uleb(0)))),
		section(secFunction, vec(uleb(0))),
		section(secExport, vec(cat(wname("_start"), []byte{0x00}, uleb(1)))),
		section(secCode, vec(cat(uleb(2), []byte{0x00, opEnd}))),
	)
}

// memoryModule defines (without exporting) a memory of minPages and an
// empty _start.
func memoryModule(minPages uint32) []byte {
	return wasmModule(
		section(secType, vec(emptyFuncType)),
		section(secFunction, vec(uleb(0))),
		section(secMemory, vec(cat([]byte{0x00}, uleb(minPages)))),
		section(secExport, vec(cat(wname("_start"), []byte{0x00}, uleb(0)))),
		section(secCode, vec(cat(uleb(2), []byte{0x00, opEnd}))),
	)
}

// libraryModule exports a function, but no _start.
func libraryModule() []byte {
	return wasmModule(
		section(secType, vec(emptyFuncType)),
		section(secFunction, vec(uleb(0))),
		section(secExport, vec(cat(wname("run"), []byte{0x00}, uleb(0)))),
		section(secCode, vec(cat(uleb(2), []byte{0x00, opEnd}))),
	)
}

// helloOutput is what helloModule writes.
const helloOutput = `{"ok":true}` + "\n"

// helloModule is the smallest useful WASI command: it writes helloOutput to
// stdout with one fd_write and returns. tag, when not empty, is stored in a
// custom section to give the same program a different hash.
func helloModule(tag string) []byte {
	fdWriteType := cat([]byte{funcForm}, vec([]byte{valI32}, []byte{valI32}, []byte{valI32}, []byte{valI32}),
		vec([]byte{valI32}))
	// Memory layout: an iovec {ptr 16, len} at 0, nwritten at 8, text at 16.
	iovec := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 16), uint32(len(helloOutput)))
	data := cat(iovec, make([]byte, 8), []byte(helloOutput))
	body := cat([]byte{0x00}, i32const(1), i32const(0), i32const(1), i32const(8),
		[]byte{opCall, 0x00, opDrop, opEnd})

	sections := [][]byte{
		section(secType, vec(fdWriteType, emptyFuncType)),
		section(secImport, vec(cat(wname("wasi_snapshot_preview1"), wname("fd_write"), []byte{0x00}, uleb(0)))),
		section(secFunction, vec(uleb(1))),
		section(secMemory, vec(cat([]byte{0x00}, uleb(1)))),
		section(secExport, vec(
			cat(wname("_start"), []byte{0x00}, uleb(1)),
			cat(wname("memory"), []byte{0x02}, uleb(0)),
		)),
		section(secCode, vec(cat(uleb(uint32(len(body))), body))),
		section(secData, vec(cat([]byte{0x00}, i32const(0), []byte{opEnd}, uleb(uint32(len(data))), data))),
	}
	if tag != "" {
		sections = append(sections, section(secCustom, cat(wname("tag"), []byte(tag))))
	}
	return wasmModule(sections...)
}

// sleb encodes a signed LEB128, as i32.const immediates are.
func sleb(v int32) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

// funcTable declares a funcref table of minEntries with no maximum, as the
// Go linker does.
func funcTable(minEntries uint32) []byte {
	return section(secTable, vec(cat([]byte{refFunc, 0x00}, uleb(minEntries))))
}

// tableModule defines a table of minEntries and an empty _start.
func tableModule(minEntries uint32) []byte {
	return wasmModule(
		section(secType, vec(emptyFuncType)),
		section(secFunction, vec(uleb(0))),
		funcTable(minEntries),
		section(secExport, vec(cat(wname("_start"), []byte{0x00}, uleb(0)))),
		section(secCode, vec(cat(uleb(2), []byte{0x00, opEnd}))),
	)
}

// tableGrowModule's _start grows an empty table by delta entries and traps
// when the growth succeeded.
func tableGrowModule(delta int32) []byte {
	body := cat([]byte{0x00, opRefNull, refFunc, opI32Const}, sleb(delta),
		[]byte{opPrefixFC, fcTableGrow, 0x00}, []byte{opI32Const}, sleb(-1),
		[]byte{opI32Ne, opIf, blockEmpty, opUnreachable, opEnd, opEnd})
	return wasmModule(
		section(secType, vec(emptyFuncType)),
		section(secFunction, vec(uleb(0))),
		funcTable(0),
		section(secExport, vec(cat(wname("_start"), []byte{0x00}, uleb(0)))),
		section(secCode, vec(cat(uleb(uint32(len(body))), body))),
	)
}
