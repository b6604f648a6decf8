// Package e2e holds Cairn's end-to-end tests: real validator processes of
// the cairn binary on 127.0.0.1, driven through the Go SDK. It has no
// non-test code besides this comment.
package e2e
