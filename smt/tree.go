package smt

import (
	"crypto/sha256"

	"github.com/cairn-db/cairn/crypto"
)

// Node tags: the first byte of a node's hash preimage. A leaf can never be
// mistaken for an internal node because the tags differ.
const (
	TagLeaf     byte = 0x00
	TagInternal byte = 0x01
)

// MaxDepth is the length of a path in bits, and so the most siblings a proof
// can have.
const MaxDepth = 8 * crypto.HashSize

// Path returns the path of key in the tree: SHA-256(key).
func Path(key []byte) crypto.Hash { return sha256.Sum256(key) }

// LeafHash returns SHA-256(0x00 || keyHash || valueHash).
func LeafHash(keyHash, valueHash crypto.Hash) crypto.Hash {
	return nodeHash(TagLeaf, &keyHash, &valueHash)
}

// InternalHash returns SHA-256(0x01 || left || right).
func InternalHash(left, right crypto.Hash) crypto.Hash {
	return nodeHash(TagInternal, &left, &right)
}

func nodeHash(tag byte, a, b *crypto.Hash) crypto.Hash {
	var buf [1 + 2*crypto.HashSize]byte
	buf[0] = tag
	copy(buf[1:], a[:])
	copy(buf[1+crypto.HashSize:], b[:])
	return sha256.Sum256(buf[:])
}

// Bit returns bit i of a path, 0 being the most significant bit of byte 0:
// the bit that chooses the child at depth i (0 = left, 1 = right). i must be
// below MaxDepth.
func Bit(path *crypto.Hash, i int) byte {
	return (path[i>>3] >> (7 - uint(i&7))) & 1
}

// CommonPrefixBits returns the number of leading bits a and b share
// (MaxDepth when they are equal).
func CommonPrefixBits(a, b *crypto.Hash) int {
	for i := 0; i < crypto.HashSize; i++ {
		if x := a[i] ^ b[i]; x != 0 {
			n := i * 8
			for x&0x80 == 0 {
				x <<= 1
				n++
			}
			return n
		}
	}
	return MaxDepth
}
