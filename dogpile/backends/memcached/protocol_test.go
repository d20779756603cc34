package memcached

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

func TestWriteCommands(t *testing.T) {
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	err := writeCommands(w, []command{
		{key: "a", value: []byte("hello"), exp: 121},
		{del: true, key: "b"},
		{key: "c", value: []byte{}, exp: 0},
		{key: "d", value: []byte("x\r\ny"), exp: 1_900_000_000},
	})
	want := "set a 0 121 5\r\nhello\r\ndelete b\r\nset c 0 0 0\r\n\r\nset d 0 1900000000 4\r\nx\r\ny\r\nversion\r\n"
	if err != nil || out.String() != want {
		t.Errorf("writeCommands = %q, %v;\nwant %q", out.String(), err, want)
	}
	if err := writeCommands(bufio.NewWriterSize(failingWriter{}, 16), []command{{key: "a", value: make([]byte, 64)}}); err == nil {
		t.Error("writeCommands on a failing writer: no error")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestReadReplies(t *testing.T) {
	set := command{key: "k", value: []byte("vvvv")}
	del := command{del: true, key: "k"}
	for _, tc := range []struct {
		name    string
		cmds    []command
		stream  string
		n       int
		errs    []string // "" nil, "large", or a substring of the error
		stopErr string   // "" none, "step" out of step, or a substring
	}{
		{"AllStored", []command{set, set}, "STORED\r\nSTORED\r\nVERSION 1.6.18\r\n", 2, []string{"", ""}, ""},
		{"Deletes", []command{del, del}, "DELETED\r\nNOT_FOUND\r\nVERSION 1.6.18\r\n", 2, []string{"", ""}, ""},
		{"Empty", nil, "VERSION 1.6.18\r\n", 0, nil, ""},
		{"TooLarge", []command{set, set, set}, "STORED\r\nSERVER_ERROR object too large for cache\r\nSTORED\r\nVERSION 1\r\n", 3,
			[]string{"", "large", ""}, ""},
		{"ServerErrors", []command{set, del, set}, "SERVER_ERROR out of memory storing object\r\nSERVER_ERROR busy\r\nNOT_STORED\r\nVERSION 1\r\n", 3,
			[]string{`"SERVER_ERROR out of memory storing object"`, `"SERVER_ERROR busy"`, `"NOT_STORED"`}, ""},
		{"EOFMidway", []command{set, set, set}, "STORED\r\nSTORED\r\n", 2, []string{"", "", ""}, "EOF"},
		{"EOFBeforeVersion", []command{set}, "STORED\r\n", 1, []string{""}, "EOF"},
		{"TruncatedLine", []command{set, set}, "STORED\r\nSTO", 1, []string{"", ""}, "EOF"},
		{"WrongVerb", []command{del}, "STORED\r\nVERSION 1\r\n", 0, []string{""}, "step"},
		{"EarlyVersion", []command{set, set}, "STORED\r\nVERSION 1\r\n", 1, []string{"", ""}, "step"},
		{"ExtraReply", []command{set}, "STORED\r\nSTORED\r\nVERSION 1\r\n", 1, []string{""}, "step"},
		{"ClientError", []command{set}, "CLIENT_ERROR bad data chunk\r\nVERSION 1\r\n", 0, []string{""}, "step"},
		{"Error", []command{set}, "ERROR\r\n", 0, []string{""}, "step"},
		{"NoCR", []command{set}, "STORED\n", 0, []string{""}, "step"},
		{"LongLine", []command{set}, "SERVER_ERROR " + strings.Repeat("x", 5000) + "\r\n", 0, []string{""}, "step"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := make([]error, len(tc.cmds))
			n, err := readReplies(bufio.NewReaderSize(strings.NewReader(tc.stream), 4096), tc.cmds, errs, "srv:1")
			if n != tc.n {
				t.Errorf("read %d replies; want %d", n, tc.n)
			}
			switch {
			case tc.stopErr == "" && err != nil:
				t.Errorf("stopped with %v; want no error", err)
			case tc.stopErr == "step" && !errors.Is(err, errOutOfStep):
				t.Errorf("stopped with %v; want out of step", err)
			case tc.stopErr != "" && tc.stopErr != "step" && (err == nil || !strings.Contains(err.Error(), tc.stopErr)):
				t.Errorf("stopped with %v; want %s", err, tc.stopErr)
			}
			for i, want := range tc.errs[:n] {
				switch got := errs[i]; {
				case want == "" && got != nil:
					t.Errorf("reply %d: %v; want success", i, got)
				case want == "large" && !errors.Is(got, driver.ErrValueTooLarge):
					t.Errorf("reply %d: %v; want driver.ErrValueTooLarge", i, got)
				case want != "" && want != "large" && (got == nil || !strings.Contains(got.Error(), want) ||
					errors.Is(got, driver.ErrValueTooLarge) || !strings.Contains(got.Error(), "srv:1 replied")):
					t.Errorf("reply %d: %v; want an error from srv:1 saying %s", i, got, want)
				}
			}
		})
	}
}

// FuzzReadReplies feeds arbitrary server output to the reply reader: it
// never panics, never claims more replies than commands, and reads a
// whole batch only when the stream closes it with VERSION.
func FuzzReadReplies(f *testing.F) {
	for _, seed := range []string{
		"STORED\r\nSTORED\r\nVERSION 1.6.18\r\n",
		"DELETED\r\nNOT_FOUND\r\nVERSION 1\r\n",
		"STORED\r\nSERVER_ERROR object too large for cache\r\nVERSION 1\r\n",
		"SERVER_ERROR out of memory storing object\r\nNOT_STORED\r\n",
		"STORED\r\nSTO",
		"CLIENT_ERROR bad data chunk\r\nERROR\r\n",
		"VERSION 1\r\n",
		"\r\n\n\r",
	} {
		f.Add([]byte(seed), uint8(2), uint16(0b10))
	}
	f.Fuzz(func(t *testing.T, stream []byte, n uint8, deletes uint16) {
		cmds := make([]command, n%17)
		for i := range cmds {
			cmds[i] = command{del: deletes&(1<<i) != 0, key: "k", value: []byte("v")}
		}
		errs := make([]error, len(cmds))
		r := bufio.NewReaderSize(bytes.NewReader(stream), 64)
		got, err := readReplies(r, cmds, errs, "srv:1")
		if got < 0 || got > len(cmds) {
			t.Fatalf("read %d replies for %d commands", got, len(cmds))
		}
		if err == nil {
			if got != len(cmds) {
				t.Fatalf("no error after %d of %d replies", got, len(cmds))
			}
			if !bytes.Contains(stream, []byte("VERSION ")) {
				t.Fatalf("a batch closed without VERSION in %q", stream)
			}
		}
		for i, e := range errs[:got] {
			if e != nil && errors.Is(e, driver.ErrValueTooLarge) && cmds[i].del {
				t.Fatalf("a delete reported too large: %v", e)
			}
		}
	})
}
