// Package compress wraps a region's codec so that large payloads are
// stored compressed with gzip, for byte-storing backends: smaller entries
// on the wire, and values that would exceed a server's item size (such as
// Memcached's 1 MiB) fit.
//
//	region := dogpile.NewRegion(dogpile.WithCodec(
//		compress.Codec(dogpile.JSON, compress.Options{MinSize: 4096})))
//
// A compressed payload is Magic followed by a gzip stream (RFC 1952) of
// the inner codec's bytes. Payloads without the prefix are the inner
// codec's as they are: payloads under MinSize are stored so, and entries
// written before compression was turned on, or by Python processes, still
// decode.
//
// Compression is off unless a region is given this codec, because Python
// processes cannot read compressed entries: where a Go process stored one,
// a Python region's deserializer fails on the payload, and dogpile.cache
// raises rather than treat the entry as a miss. Use it where only Go
// processes read the entries, or with a MinSize above every payload
// Python must read.
package compress

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/dogpilego/dogpile/dogpile"
)

// Magic starts every compressed payload. No JSON text starts with a NUL
// byte; a payload of the inner codec that starts with Magic is stored
// compressed whatever its size, so that it decodes as it was.
const Magic = "\x00dpz"

// Defaults of Options.
const (
	// DefaultMinSize is the smallest payload compressed when
	// Options.MinSize is zero: smaller ones gain too little.
	DefaultMinSize = 1024
	// DefaultMaxSize bounds decompressed payloads when Options.MaxSize
	// is zero.
	DefaultMaxSize = 64 << 20
)

// Options configure Codec. The zero Options compress payloads of
// DefaultMinSize bytes and more at gzip's default level.
type Options struct {
	// MinSize is the size, in bytes of the inner codec's output, from
	// which payloads are compressed: 0 means DefaultMinSize, negative is
	// invalid.
	MinSize int
	// Level is gzip's compression level: gzip.BestSpeed (1) to
	// gzip.BestCompression (9), or gzip.HuffmanOnly (-2); 0 and
	// gzip.DefaultCompression (-1) mean gzip's default (6).
	Level int
	// MaxSize bounds a decompressed payload, in bytes, against entries
	// that expand without end: a larger one is undecodable (a miss). 0
	// means DefaultMaxSize; negative is invalid.
	MaxSize int
}

// codec is the compressing dogpile.Codec.
type codec struct {
	inner   dogpile.Codec
	minSize int
	maxSize int
	level   int
	err     error // the options' problem: every call fails with it

	writers sync.Pool // *gzip.Writer at level
	readers sync.Pool // *gzip.Reader
}

// Codec returns a dogpile.Codec that encodes with inner and compresses
// the result when it is at least opts.MinSize bytes and compression makes
// it smaller; it decodes both compressed and plain payloads with inner.
// A nil inner or Options that cannot take their values make every
// Marshal and Unmarshal fail with an error wrapping
// dogpile.ErrInvalidArgument, so a region using it fails its writes and
// misses its reads rather than store what it should not.
//
// Errors decompressing a payload wrap dogpile.ErrUndecodable (regions
// treat the entry as a miss); the inner codec's errors are returned as
// they are.
func Codec(inner dogpile.Codec, opts Options) dogpile.Codec {
	c := &codec{inner: inner, minSize: opts.MinSize, maxSize: opts.MaxSize, level: opts.Level}
	switch {
	case inner == nil:
		c.err = errors.New("nil inner codec")
	case opts.MinSize < 0:
		c.err = fmt.Errorf("Options.MinSize is %d, want 0 (%d) or more", opts.MinSize, DefaultMinSize)
	case opts.MaxSize < 0:
		c.err = fmt.Errorf("Options.MaxSize is %d, want 0 (%d) or more", opts.MaxSize, DefaultMaxSize)
	case opts.Level != 0 && (opts.Level < gzip.HuffmanOnly || opts.Level > gzip.BestCompression):
		c.err = fmt.Errorf("Options.Level is %d, want %d to %d, or 0 (gzip's default)", opts.Level, gzip.HuffmanOnly, gzip.BestCompression)
	}
	if c.err != nil {
		c.err = fmt.Errorf("%w: compress: %v", dogpile.ErrInvalidArgument, c.err)
	}
	if c.minSize == 0 {
		c.minSize = DefaultMinSize
	}
	if c.maxSize == 0 {
		c.maxSize = DefaultMaxSize
	}
	if c.level == 0 {
		c.level = gzip.DefaultCompression
	}
	return c
}

// Marshal encodes v with the inner codec and compresses the bytes when
// they are large enough and compression makes them smaller.
func (c *codec) Marshal(v any) ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	data, err := c.inner.Marshal(v)
	if err != nil {
		return nil, err
	}
	prefixed := bytes.HasPrefix(data, []byte(Magic))
	if len(data) < c.minSize && !prefixed {
		return data, nil
	}
	z, err := c.compress(data)
	if err != nil {
		return nil, err
	}
	if len(z) >= len(data) && !prefixed {
		return data, nil // incompressible: stored as it is, read without inflating
	}
	return z, nil
}

func (c *codec) compress(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(Magic) + len(data)/3 + 64)
	buf.WriteString(Magic)
	zw, _ := c.writers.Get().(*gzip.Writer)
	if zw == nil {
		var err error
		if zw, err = gzip.NewWriterLevel(&buf, c.level); err != nil {
			return nil, fmt.Errorf("compress: %w", err)
		}
	} else {
		zw.Reset(&buf)
	}
	_, err := zw.Write(data)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	zw.Reset(nil)
	c.writers.Put(zw)
	if err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	return buf.Bytes(), nil
}

// Unmarshal decompresses data when it starts with Magic and decodes the
// bytes into v with the inner codec.
func (c *codec) Unmarshal(data []byte, v any) error {
	if c.err != nil {
		return c.err
	}
	rest, compressed := bytes.CutPrefix(data, []byte(Magic))
	if !compressed {
		return c.inner.Unmarshal(data, v)
	}
	plain, err := c.decompress(rest)
	if err != nil {
		return fmt.Errorf("%w: compress: %v", dogpile.ErrUndecodable, err)
	}
	return c.inner.Unmarshal(plain, v)
}

func (c *codec) decompress(z []byte) ([]byte, error) {
	zr, _ := c.readers.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(z))
	} else {
		err = zr.Reset(bytes.NewReader(z))
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		_ = zr.Reset(bytes.NewReader(nil)) // keeps nothing of data
		c.readers.Put(zr)
	}()
	zr.Multistream(false)
	var out bytes.Buffer
	if n := len(z); n >= 4 {
		// gzip's trailer holds the size of the input, modulo 2^32: a
		// hint, which the limit below does not trust.
		out.Grow(min(int(binary.LittleEndian.Uint32(z[n-4:])), c.maxSize) + bytes.MinRead)
	}
	n, err := out.ReadFrom(io.LimitReader(zr, int64(c.maxSize)+1))
	switch {
	case err != nil:
		return nil, err
	case n > int64(c.maxSize):
		return nil, fmt.Errorf("payload inflates past MaxSize (%d bytes)", c.maxSize)
	}
	return out.Bytes(), nil
}

// Valid reports whether data can be an entry of this codec: a
// compressed payload whose gzip header is there (its body is checked when
// it is decoded), or a plain one the inner codec finds valid, when it has
// a Valid method of its own.
func (c *codec) Valid(data []byte) bool {
	if c.err != nil {
		return false
	}
	if rest, ok := bytes.CutPrefix(data, []byte(Magic)); ok {
		return len(rest) >= 18 && rest[0] == 0x1f && rest[1] == 0x8b && rest[2] == 8 // header and trailer, deflate
	}
	if v, ok := c.inner.(interface{ Valid([]byte) bool }); ok {
		return v.Valid(data)
	}
	return true
}
