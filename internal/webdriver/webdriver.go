package webdriver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// elementKey is the W3C web element identifier's JSON key.
const elementKey = "element-6066-11e4-a52e-4f735466cecf"

// Error is an error answered by the WebDriver server.
type Error struct {
	Status  int    // the HTTP status
	Code    string // the WebDriver error code, such as "no such element"
	Message string // the server's explanation
}

// Error returns the code, the HTTP status and the message.
func (e *Error) Error() string {
	return fmt.Sprintf("webdriver: %s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// ErrNoSuchElement is matched by errors.Is for an Error whose code is
// "no such element".
var ErrNoSuchElement = errors.New("webdriver: no such element")

// Is makes errors.Is(err, ErrNoSuchElement) work.
func (e *Error) Is(target error) bool {
	return target == ErrNoSuchElement && e.Code == "no such element"
}

// client sends WebDriver commands to one server.
type client struct {
	base string // http://127.0.0.1:port
	http *http.Client
}

// do sends a command and decodes the "value" of the answer into out (when
// out is not nil).
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("webdriver: encoding %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("webdriver: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("webdriver: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("webdriver: %s %s: reading the answer: %w", method, path, err)
	}
	var envelope struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &envelope); err != nil {
		return fmt.Errorf("webdriver: %s %s: HTTP %d, undecodable answer %q: %w", method, path, resp.StatusCode, truncate(raw), err)
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(envelope.Value, &e)
		if e.Error == "" {
			e.Error = "unknown error"
			e.Message = truncate(raw)
		}
		return &Error{Status: resp.StatusCode, Code: e.Error, Message: e.Message}
	}
	if out != nil {
		if err := json.Unmarshal(envelope.Value, out); err != nil {
			return fmt.Errorf("webdriver: %s %s: decoding %q: %w", method, path, truncate(envelope.Value), err)
		}
	}
	return nil
}

func truncate(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
