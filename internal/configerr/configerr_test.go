package configerr

import (
	"errors"
	"fmt"
	"testing"
)

func TestError(t *testing.T) {
	var err error = &Error{Component: "watcher", Key: "dirs[1]", Reason: "must not be empty"}
	if got, want := err.Error(), "watcher: invalid config: dirs[1]: must not be empty"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("starting: %w", err)
	var e *Error
	if !errors.Is(wrapped, ErrInvalid) || !errors.As(wrapped, &e) || e.Key != "dirs[1]" {
		t.Errorf("%v: errors.Is(ErrInvalid) or errors.As(*Error) fails", wrapped)
	}
	if errors.Is(errors.New("invalid config"), ErrInvalid) {
		t.Error("another error with the same text matches ErrInvalid")
	}
}
