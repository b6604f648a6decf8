package types

import "errors"

// ErrNonCanonical is wrapped by every decoding error: the input is not the
// one canonical encoding of any value. The encoding rules are package
// canon's (docs/encoding.md).
var ErrNonCanonical = errors.New("non-canonical encoding")
