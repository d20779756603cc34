package memcached

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// The pipelined writes: memcached's classic text protocol, whose every
// storage and delete command gets exactly one reply line, in order. A
// batch of commands is written at once and ends with "version", whose
// VERSION reply closes the batch: every reply before it answers the
// command in its place, or the batch is out of step and none of its
// replies is trusted. The commands are sent without noreply, so that
// each key learns its own outcome: memcached's quiet modes report only
// failures, and its errors (SERVER_ERROR ...) carry no key or opaque to
// tell which command they answer.

// command is one set or delete of a pipelined batch.
type command struct {
	del   bool   // a delete; otherwise a set
	key   string // the stored key, valid for memcached
	value []byte // a set's value
	exp   int32  // a set's exptime field
}

func (c command) verb() string {
	if c.del {
		return "delete"
	}
	return "set"
}

// errOutOfStep reports replies that do not match the commands sent: the
// connection is dropped and none of the batch's replies is trusted.
var errOutOfStep = errors.New("replies out of step with the commands sent")

// writeCommands writes cmds and the closing "version" to w and flushes
// it. Values are written as they are, with item flags 0.
func writeCommands(w *bufio.Writer, cmds []command) error {
	var hdr [32 + MaxKeyLength]byte
	for _, c := range cmds {
		h := hdr[:0]
		if c.del {
			h = append(h, "delete "...)
			h = append(h, c.key...)
			h = append(h, "\r\n"...)
			_, _ = w.Write(h)
			continue
		}
		h = append(h, "set "...)
		h = append(h, c.key...)
		h = append(h, " 0 "...)
		h = strconv.AppendInt(h, int64(c.exp), 10)
		h = append(h, ' ')
		h = strconv.AppendInt(h, int64(len(c.value)), 10)
		h = append(h, "\r\n"...)
		_, _ = w.Write(h)
		_, _ = w.Write(c.value)
		_, _ = w.WriteString("\r\n")
	}
	_, _ = w.WriteString("version\r\n")
	return w.Flush() // reports the first write error too
}

// readReplies reads the reply to each command into errs (nil for
// success) and then the closing VERSION. It returns how many replies it
// read and what ended the exchange early: an I/O error, after which the
// replies read stand, or an error wrapping errOutOfStep, after which none
// does. addr names the server in errors.
func readReplies(r *bufio.Reader, cmds []command, errs []error, addr string) (int, error) {
	for i, c := range cmds {
		line, err := readLine(r)
		if err != nil {
			return i, err
		}
		ok, e := parseReply(line, c, addr)
		if !ok {
			return i, fmt.Errorf("%w: %s replied %q to a %s", errOutOfStep, addr, line, c.verb())
		}
		errs[i] = e
	}
	line, err := readLine(r)
	if err != nil {
		return len(cmds), err
	}
	if !bytes.HasPrefix(line, []byte("VERSION ")) {
		return len(cmds), fmt.Errorf("%w: %s replied %q where the batch's VERSION was due", errOutOfStep, addr, line)
	}
	return len(cmds), nil
}

// readLine reads one reply line, without its "\r\n".
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("%w: a reply line of more than %d bytes", errOutOfStep, r.Size())
	case err != nil:
		return nil, err
	case len(line) < 2 || line[len(line)-2] != '\r':
		return nil, fmt.Errorf("%w: reply line %q does not end with CRLF", errOutOfStep, line)
	}
	return line[:len(line)-2], nil
}

// parseReply maps a reply line to the outcome of c: nil for success or
// the error of a refusal; ok is false for a line that cannot answer c.
func parseReply(line []byte, c command, addr string) (ok bool, outcome error) {
	switch s := string(line); {
	case c.del && (s == "DELETED" || s == "NOT_FOUND"):
		return true, nil // a missing key is not an error
	case !c.del && s == "STORED":
		return true, nil
	case !c.del && s == "NOT_STORED":
		return true, fmt.Errorf("%s replied %q", addr, line)
	case bytes.HasPrefix(line, []byte("SERVER_ERROR ")):
		// memcached skips the value of a set it refuses: the stream
		// stays in step.
		if !c.del && bytes.Contains(line, []byte(" too large")) {
			return true, fmt.Errorf("%w: %d bytes; %s replied %q", driver.ErrValueTooLarge, len(c.value), addr, line)
		}
		return true, fmt.Errorf("%s replied %q", addr, line)
	}
	return false, nil
}
