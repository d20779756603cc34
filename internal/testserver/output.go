package testserver

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
)

const (
	outputKeep      = 64 << 10 // bytes of server output kept in memory
	outputTailLines = 40       // lines of it shown in failure messages
)

// output collects a server's stdout and stderr, keeping the most recent
// outputKeep bytes. It is safe for concurrent use.
type output struct {
	mu  sync.Mutex
	buf []byte
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, p...)
	if over := len(o.buf) - outputKeep; over > 0 {
		o.buf = append(o.buf[:0], o.buf[over:]...)
	}
	return len(p), nil
}

// note adds a line of the package's own to the output.
func (o *output) note(format string, args ...any) {
	fmt.Fprintf(o, "--- testserver: "+format+"\n", args...)
}

// tail returns the last outputTailLines lines of output, indented, ready
// to append to a failure message.
func (o *output) tail() string {
	o.mu.Lock()
	b := bytes.TrimRight(o.buf, "\n")
	lines := strings.Split(string(b), "\n")
	o.mu.Unlock()
	if len(lines) > outputTailLines {
		lines = lines[len(lines)-outputTailLines:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return "\n\t(no server output)"
	}
	return "\n\tserver output (tail):\n\t\t" + strings.Join(lines, "\n\t\t")
}
