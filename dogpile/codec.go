package dogpile

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Codec turns payloads into bytes and back for byte-storing backends
// (dogpile.cache's serializer and deserializer). Unmarshal must report a
// payload of another type with an error wrapping ErrTypeMismatch, and
// unreadable bytes with any other error; regions treat the latter as a
// miss.
//
// A codec may also have a method Valid(data []byte) bool, a cheap check
// run when an entry is read: entries it rejects are a miss, reported, and
// are overwritten by the next creation instead of failing every read.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

type validator interface{ Valid(data []byte) bool }

// JSON is the default codec: encoding/json, which reads what Python's
// json.dumps writes and the other way round.
var JSON Codec = jsonCodec{}

type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("json codec: %w", err)
	}
	return b, nil
}

// Valid reports whether data is one JSON value.
func (jsonCodec) Valid(data []byte) bool { return json.Valid(data) }

func (jsonCodec) Unmarshal(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%w: json codec: %v", ErrTypeMismatch, err)
	}
	return fmt.Errorf("%w: json codec: %v", ErrUndecodable, err)
}
