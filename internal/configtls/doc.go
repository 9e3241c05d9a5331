// Package configtls is the one place where the bridge turns the PEM file
// names of its configuration (the tls: sections of output and receiver) into
// a crypto/tls.Config, for the OTLP clients and for the receiver's servers.
// It reads files and checks them; it must never open connections, decide
// whether TLS is wanted (its callers do) or log the files' contents.
package configtls
