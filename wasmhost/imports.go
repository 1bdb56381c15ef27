package wasmhost

import (
	"errors"
	"fmt"
)

// wasmImport is one entry of a module's import section.
type wasmImport struct {
	Module, Name string
	Kind         string // "function", "table", "memory", "global", "tag"
}

// moduleInfo is what Load needs to know before wazero compiles a module.
type moduleInfo struct {
	imports []wasmImport
	start   bool // has a start section
}

// readImports lists the import section of a binary module.
func readImports(b []byte) ([]wasmImport, error) {
	info, err := scanModule(b)
	return info.imports, err
}

// scanModule reads what Load checks itself: the preamble, every section
// header, the import section and whether a start section exists. It reports
// a clear error for a malformed or truncated module; the full validation is
// wazero's.
func scanModule(b []byte) (moduleInfo, error) {
	var info moduleInfo
	if len(b) < 8 {
		return info, fmt.Errorf("truncated: %d bytes, a wasm module starts with 8", len(b))
	}
	if string(b[:4]) != "\x00asm" {
		return info, errors.New("not a wasm module: bad magic number (want \\0asm)")
	}
	if v := b[4:8]; v[0] != 1 || v[1] != 0 || v[2] != 0 || v[3] != 0 {
		return info, fmt.Errorf("unsupported wasm binary version %d (want 1, a core module)", uint32(v[0])|uint32(v[1])<<8|uint32(v[2])<<16|uint32(v[3])<<24)
	}
	r := byteReader{b: b, pos: 8}
	for r.pos < len(b) {
		id := b[r.pos]
		r.pos++
		size, err := r.u32()
		if err != nil {
			return info, fmt.Errorf("section %d header: %w", id, err)
		}
		if uint64(size) > uint64(len(b)-r.pos) {
			return info, fmt.Errorf("truncated: section %d claims %d bytes, %d remain", id, size, len(b)-r.pos)
		}
		end := r.pos + int(size)
		switch id {
		case 2:
			sec := byteReader{b: b[:end], pos: r.pos}
			imps, err := sec.imports()
			if err != nil {
				return moduleInfo{}, fmt.Errorf("import section: %w", err)
			}
			info.imports = imps
		case 8:
			info.start = true
		}
		r.pos = end
	}
	return info, nil
}

type byteReader struct {
	b   []byte
	pos int
}

var errTruncated = errors.New("truncated")

func (r *byteReader) byte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, errTruncated
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

// u32 reads an unsigned LEB128 number of at most 5 bytes.
func (r *byteReader) u32() (uint32, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 4 && c > 0x0f {
			return 0, errors.New("integer too large")
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errors.New("integer too long")
}

func (r *byteReader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	if uint64(n) > uint64(len(r.b)-r.pos) {
		return "", errTruncated
	}
	s := string(r.b[r.pos : r.pos+int(n)])
	r.pos += int(n)
	return s, nil
}

func (r *byteReader) skipLimits() error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if _, err := r.u32(); err != nil {
		return err
	}
	if flags&1 != 0 {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

func (r *byteReader) imports() ([]wasmImport, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	var out []wasmImport
	for i := uint32(0); i < n; i++ {
		var im wasmImport
		if im.Module, err = r.name(); err != nil {
			return nil, fmt.Errorf("import %d: %w", i, err)
		}
		if im.Name, err = r.name(); err != nil {
			return nil, fmt.Errorf("import %d: %w", i, err)
		}
		kind, err := r.byte()
		if err != nil {
			return nil, fmt.Errorf("import %d: %w", i, err)
		}
		switch kind {
		case 0:
			im.Kind = "function"
			_, err = r.u32()
		case 1:
			im.Kind = "table"
			if _, err = r.byte(); err == nil {
				err = r.skipLimits()
			}
		case 2:
			im.Kind = "memory"
			err = r.skipLimits()
		case 3:
			im.Kind = "global"
			if _, err = r.byte(); err == nil {
				_, err = r.byte()
			}
		case 4:
			im.Kind = "tag"
			if _, err = r.byte(); err == nil {
				_, err = r.u32()
			}
		default:
			return nil, fmt.Errorf("import %d (%s.%s): unknown kind %#x", i, printName(im.Module), printName(im.Name), kind)
		}
		if err != nil {
			return nil, fmt.Errorf("import %d (%s.%s): %w", i, printName(im.Module), printName(im.Name), err)
		}
		out = append(out, im)
		if len(out) > 100_000 {
			return nil, errors.New("too many imports")
		}
	}
	return out, nil
}
