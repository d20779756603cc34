package file

// The store file: a header, then an append-only log of checksummed
// records. The index of a process maps each key to its last record;
// nothing is ever rewritten in place.
//
//	header  (16 bytes)  "dogpile\x00" | version uint32 | generation uint32
//	record  (13 bytes + key + value)
//	        crc32c uint32      of everything after it in the record
//	        kind   uint8       1 set, 2 delete (tombstone), 3 moved
//	        klen   uint32      key length
//	        vlen   uint32      value length (0 unless kind is set)
//	        key    [klen]byte
//	        value  [vlen]byte
//
// Integers are little-endian. The generation is a random number chosen
// whenever a header is written (stores of earlier releases have 0 there,
// where a flags field was): a process that reads a header other than the
// one it indexed knows that the store was emptied and begun again, even
// when it has since grown back to the size it knew. A "moved" record (no
// key, no value) is appended to a store just before a compaction renames
// its replacement over it, so processes reading the old file learn that
// they must reopen the path. The log is valid up to its first record that
// is incomplete, fails its checksum or has impossible lengths; what
// follows is a torn write, ignored by readers and truncated away by the
// next writer.
//
// Since an operator may truncate the file at any moment, even between two
// system calls of a writer, a value is never trusted for its offset alone:
// every read reads the whole record and checks its checksum, kind, key and
// length (readRecord).

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
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

// headerPrefix is what every header of this format version begins with;
// the generation follows.
const headerPrefix = magic + "\x01\x00\x00\x00"

// header returns a new header, with a generation of its own.
func header() []byte {
	h := make([]byte, headerSize)
	copy(h, headerPrefix)
	binary.LittleEndian.PutUint32(h[len(headerPrefix):], rand.Uint32())
	return h
}

// fileState is what the beginning of a file says it is.
type fileState int

const (
	// stateValid: a whole header of this format version.
	stateValid fileState = iota
	// stateEmpty: an empty store. That is an empty file, or the beginning
	// of a header (a store whose creation was interrupted, or one
	// truncated to a few bytes), possibly followed by zero bytes (a
	// truncation that lengthened the file: truncate -s 13 of an emptied
	// store), possibly followed by a whole valid record (a store truncated
	// inside its header while a writer appended, the writer killed before
	// it could begin the store again: what follows the cut is not
	// trusted).
	stateEmpty
	// stateForeign: another program's file, or another format version.
	stateForeign
)

// inspect reads the beginning of f, of size bytes, and says what it is;
// for stateForeign, problem says why.
func inspect(f *os.File, size int64) (state fileState, hdr [headerSize]byte, problem string, err error) {
	h := hdr[:min(size, headerSize)]
	if _, err := f.ReadAt(h, 0); err != nil && ioErr(err) != nil {
		return stateForeign, hdr, "", err
	}
	// h begins with cleared bytes: those of a header (any generation),
	// then zeros.
	cleared := 0
	for cleared < len(headerPrefix) && cleared < len(h) && h[cleared] == headerPrefix[cleared] {
		cleared++
	}
	switch {
	case cleared == len(headerPrefix) && len(h) == headerSize:
		return stateValid, hdr, "", nil
	case cleared == len(headerPrefix):
		cleared = len(h) // a part of the generation
	}
	for cleared < len(h) && h[cleared] == 0 {
		cleared++
	}
	if cleared == len(h) {
		return stateEmpty, [headerSize]byte{}, "", nil
	}
	for at := range int64(cleared + 1) {
		valid := false
		if _, err := scan(f, at, size, func(record) bool { valid = true; return false }); err != nil {
			return stateForeign, hdr, "", err
		}
		if valid {
			return stateEmpty, [headerSize]byte{}, "", nil
		}
	}
	if len(h) >= 12 && string(h[:len(magic)]) == magic {
		return stateForeign, hdr, fmt.Sprintf("format version %d (this package reads version %d)",
			binary.LittleEndian.Uint32(h[8:12]), formatVersion), nil
	}
	return stateForeign, hdr, "unknown header", nil
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

// record is one record as scan reports it: it begins at off; for kindSet,
// its value is vlen bytes long.
type record struct {
	kind byte
	key  string
	off  int64
	vlen int
}

// errStale reports that the bytes where the index places a record are not
// that record: the store was truncated or rewritten under the index.
var errStale = errors.New("the index does not match the store")

// readRecord reads the set record of key at off, whose value is n bytes
// long, into buf (of recordSize(len(key), n) bytes) and returns its
// value: a slice of buf. It returns errStale when the bytes there are not
// that record, whole and intact.
func readRecord(f *os.File, buf []byte, key string, off int64, n int) ([]byte, error) {
	if _, err := f.ReadAt(buf, off); err != nil {
		if ioErr(err) == nil {
			return nil, errStale // the file ends before the record
		}
		return nil, err
	}
	v := buf[recordHeader+len(key):]
	if buf[4] != kindSet ||
		binary.LittleEndian.Uint32(buf[5:]) != uint32(len(key)) ||
		binary.LittleEndian.Uint32(buf[9:]) != uint32(n) ||
		string(buf[recordHeader:recordHeader+len(key)]) != key ||
		crc32.Checksum(buf[4:], crcTable) != binary.LittleEndian.Uint32(buf) {
		return nil, errStale
	}
	return v, nil
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
		r := record{kind: kind, key: string(key), off: pos, vlen: int(vlen)}
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
