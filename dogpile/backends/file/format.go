package file

// The store file: a header, then an append-only log of checksummed
// records. The index of a process maps each key to the value of its last
// record; nothing is ever rewritten in place.
//
//	header  (16 bytes)  "dogpile\x00" | version uint32 | flags uint32
//	record  (13 bytes + key + value)
//	        crc32c uint32      of everything after it in the record
//	        kind   uint8       1 set, 2 delete (tombstone), 3 moved
//	        klen   uint32      key length
//	        vlen   uint32      value length (0 unless kind is set)
//	        key    [klen]byte
//	        value  [vlen]byte
//
// Integers are little-endian. A "moved" record (no key, no value) is
// appended to a store just before a compaction renames its replacement
// over it, so processes reading the old file learn that they must reopen
// the path. The log is valid up to its first record that is incomplete,
// fails its checksum or has impossible lengths; what follows is a torn
// write, ignored by readers and truncated away by the next writer.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

const (
	magic         = "dogpile\x00"
	formatVersion = 1
	headerSize    = 16
	recordHeader  = 13

	kindSet    = 1
	kindDelete = 2
	kindMoved  = 3

	// maxKey and maxValue bound what a record may hold; larger lengths in
	// a record mean it is damaged.
	maxKey   = 1 << 24
	maxValue = 1<<31 - 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func header() []byte {
	h := make([]byte, headerSize)
	copy(h, magic)
	binary.LittleEndian.PutUint32(h[8:], formatVersion)
	return h
}

// checkHeader reports whether h, the first bytes of a file, are a whole
// header this package can read, or a prefix of one (a store whose creation
// was interrupted); problem says what is wrong otherwise.
func checkHeader(h []byte) (complete bool, problem string) {
	n := min(len(h), len(magic))
	if string(h[:n]) != magic[:n] {
		return false, "unknown header"
	}
	if len(h) >= 12 {
		if v := binary.LittleEndian.Uint32(h[8:12]); v != formatVersion {
			return false, fmt.Sprintf("format version %d (this package reads version %d)", v, formatVersion)
		}
	}
	return len(h) >= headerSize, ""
}

// recordSize is the size on disk of a record with a key of klen bytes and a
// value of vlen bytes.
func recordSize(klen, vlen int) int64 { return int64(recordHeader + klen + vlen) }

// appendRecord appends one record to buf.
func appendRecord(buf []byte, kind byte, key string, value []byte) []byte {
	start := len(buf)
	buf = append(buf, 0, 0, 0, 0, kind)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(key)))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(value)))
	buf = append(buf, key...)
	buf = append(buf, value...)
	binary.LittleEndian.PutUint32(buf[start:], crc32.Checksum(buf[start+4:], crcTable))
	return buf
}

// record is one record as scan reports it: for kindSet, the value is
// vlen bytes at voff.
type record struct {
	kind byte
	key  string
	voff int64
	vlen int
}

// scan reads the records of f from start to size, calling fn for each
// valid one, and returns the offset after the last valid record: size when
// the whole range is valid, less when it ends in a torn or damaged record.
// fn returns false to stop early (scan then returns the offset after that
// record). Only I/O errors are errors.
func scan(f *os.File, start, size int64, fn func(record) bool) (int64, error) {
	if size <= start {
		return start, nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, start, size-start), 64<<10)
	var (
		hdr     [recordHeader]byte
		scratch []byte
	)
	pos := start
	for size-pos >= recordHeader {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return pos, ioErr(err)
		}
		sum := binary.LittleEndian.Uint32(hdr[0:])
		kind := hdr[4]
		klen := int64(binary.LittleEndian.Uint32(hdr[5:]))
		vlen := int64(binary.LittleEndian.Uint32(hdr[9:]))
		switch {
		case kind != kindSet && kind != kindDelete && kind != kindMoved,
			klen > maxKey, vlen > maxValue,
			kind == kindDelete && vlen != 0,
			kind == kindMoved && (klen != 0 || vlen != 0),
			size-pos-recordHeader < klen+vlen:
			return pos, nil // damaged or incomplete
		}
		key := make([]byte, klen)
		if _, err := io.ReadFull(br, key); err != nil {
			return pos, ioErr(err)
		}
		h := crc32.Update(0, crcTable, hdr[4:])
		h = crc32.Update(h, crcTable, key)
		for rest := vlen; rest > 0; {
			if scratch == nil {
				scratch = make([]byte, 32<<10)
			}
			n := min(rest, int64(len(scratch)))
			if _, err := io.ReadFull(br, scratch[:n]); err != nil {
				return pos, ioErr(err)
			}
			h = crc32.Update(h, crcTable, scratch[:n])
			rest -= n
		}
		if h != sum {
			return pos, nil
		}
		r := record{kind: kind, key: string(key), voff: pos + recordHeader + klen, vlen: int(vlen)}
		pos += recordHeader + klen + vlen
		if !fn(r) {
			return pos, nil
		}
	}
	return pos, nil
}

// ioErr reports a read error; running out of bytes (a file that shrank
// while it was read) is not one: the records are not there.
func ioErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}
