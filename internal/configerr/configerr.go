// Package configerr is the one error type for a bad configuration key, used
// by every component that validates its own Config (watcher, receiver,
// exporter): the component, the key as the user spells it under the
// component's section of the YAML file, and why it is wrong. The daemon
// turns it into "section.key: reason" for the file it read.
//
// It must never know a component's keys or rules (each component's
// Validate does), hold state, or format anything but the error's text.
package configerr

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every *Error: errors.Is(err, ErrInvalid) tells
// a bad configuration from other failures.
var ErrInvalid = errors.New("invalid config")

// Error names the configuration key that is wrong and why.
type Error struct {
	Component string // the component whose Validate found it, e.g. "watcher"
	Key       string // YAML key under the component's section, e.g. "settle_time", "dirs[1]", "tls.cert_file"
	Reason    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: invalid config: %s: %s", e.Component, e.Key, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Error) Unwrap() error { return ErrInvalid }
