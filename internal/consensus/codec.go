package consensus

import "errors"

// ErrMalformed is wrapped by every Decode and DecodeWALRecord error: the bytes
// are not the one canonical encoding of any message or record (package
// canon's rules, as for types).
var ErrMalformed = errors.New("malformed consensus encoding")
