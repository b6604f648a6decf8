package types

import "fmt"

// Code names one kind of rejected or failed transaction. Codes are stable:
// they appear in receipts, in API errors and in the search index.
type Code string

// Rejection and failure codes.
const (
	CodeMalformed           Code = "malformed"
	CodeBadSignature        Code = "bad_signature"
	CodeWrongChain          Code = "wrong_chain_id"
	CodeUnknownType         Code = "unknown_type"
	CodeOversized           Code = "oversized"
	CodeBadNonce            Code = "bad_nonce"
	CodeReplay              Code = "replay"
	CodeInsufficientBalance Code = "insufficient_balance"
	CodeVersionConflict     Code = "version_conflict"
	CodeNotFound            Code = "not_found"
	CodeInvalid             Code = "invalid"
)

// TxError is a typed reason a transaction is refused or fails. Compare with
// errors.Is against the Err* values, which match on Code alone.
type TxError struct {
	Code Code
	Msg  string
	// cause, when set, is what errors.Is and errors.As see through Unwrap:
	// decoding failures carry ErrNonCanonical here.
	cause error
}

func (e *TxError) Error() string {
	if e.Msg == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Msg
}

// Unwrap returns the underlying cause, if any.
func (e *TxError) Unwrap() error { return e.cause }

// Is matches any *TxError with the same code.
func (e *TxError) Is(target error) bool {
	t, ok := target.(*TxError)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrMalformed           = &TxError{Code: CodeMalformed}
	ErrBadSignature        = &TxError{Code: CodeBadSignature}
	ErrWrongChain          = &TxError{Code: CodeWrongChain}
	ErrUnknownType         = &TxError{Code: CodeUnknownType}
	ErrOversized           = &TxError{Code: CodeOversized}
	ErrBadNonce            = &TxError{Code: CodeBadNonce}
	ErrReplay              = &TxError{Code: CodeReplay}
	ErrInsufficientBalance = &TxError{Code: CodeInsufficientBalance}
	ErrVersionConflict     = &TxError{Code: CodeVersionConflict}
	ErrNotFound            = &TxError{Code: CodeNotFound}
	ErrInvalid             = &TxError{Code: CodeInvalid}
)

// Errf returns a *TxError with code c and a formatted message.
func Errf(c Code, format string, args ...any) *TxError {
	return &TxError{Code: c, Msg: fmt.Sprintf(format, args...)}
}
