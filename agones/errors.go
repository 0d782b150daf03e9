package agones

import (
	"errors"
	"fmt"
	"strings"
)

// Errors an *Error matches with errors.Is. The SDK server reports its own refusals as gRPC
// code Unknown (HTTP 500) with a message that starts with what went wrong ("not found. …",
// "already exists. …", "out of range. …"); these sentinels classify that message (and the
// proper gRPC codes, should the sidecar ever send them).
var (
	// ErrNotFound: the List or Counter does not exist on the GameServer, or the path is unknown
	// (not ErrValueMissing).
	ErrNotFound = errors.New("agones: not found")
	// ErrValueExists: AddListValue of a value the List already holds.
	ErrValueExists = errors.New("agones: value already in list")
	// ErrValueMissing: RemoveListValue of a value the List does not hold.
	ErrValueMissing = errors.New("agones: value not in list")
	// ErrOutOfRange: a count or capacity outside its range, including ErrListFull.
	ErrOutOfRange = errors.New("agones: out of range")
	// ErrListFull: AddListValue on a List at capacity (also matches ErrOutOfRange).
	ErrListFull = errors.New("agones: list at capacity")
)

// Error is a non-2xx answer from the sidecar: HTTP 500 with a JSON body
// {"code": 2, "message": "…", "details": []} for the SDK's own errors.
type Error struct {
	Method     string // the request's method
	Path       string // the request's path
	StatusCode int    // the HTTP status
	Code       int    // the gRPC status code in the body (2 = Unknown for the SDK's errors)
	Message    string // the body's message (or the raw body when it is not JSON)
}

func (e *Error) Error() string {
	return fmt.Sprintf("agones: %s %s: HTTP %d: %s", e.Method, e.Path, e.StatusCode, e.Message)
}

// Is classifies the error for errors.Is against ErrNotFound, ErrValueExists, ErrValueMissing,
// ErrOutOfRange and ErrListFull.
func (e *Error) Is(target error) bool {
	msg := strings.ToLower(e.Message)
	// The local SDK says "not found. Value: X not found in List: L", the cluster's SDK server
	// "not found: value X not in list L".
	valueMissing := strings.HasPrefix(msg, "not found. value:") || strings.HasPrefix(msg, "not found: value ")
	switch target {
	case ErrValueExists:
		return e.Code == 6 || strings.HasPrefix(msg, "already exists")
	case ErrValueMissing:
		return valueMissing
	case ErrNotFound:
		return !valueMissing && (e.Code == 5 || e.StatusCode == 404 || strings.HasPrefix(msg, "not found") ||
			strings.HasPrefix(msg, "list not found") || strings.HasPrefix(msg, "counter not found"))
	case ErrOutOfRange:
		return e.Code == 11 || strings.HasPrefix(msg, "out of range")
	case ErrListFull:
		return strings.HasPrefix(msg, "out of range") && strings.Contains(msg, "no available capacity")
	}
	return false
}
