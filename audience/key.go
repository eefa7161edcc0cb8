package audience

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MemberKey identifies a member within one (sync, destination) across runs.
// It is a truncated SHA-256, never the source key itself, so state holds no
// contact data even when a source keys its records by e-mail address.
type MemberKey [16]byte

// String returns the key in hex.
func (k MemberKey) String() string { return hex.EncodeToString(k[:]) }

// Compare orders keys bytewise: -1, 0 or +1.
func (k MemberKey) Compare(o MemberKey) int { return bytes.Compare(k[:], o[:]) }

// KeyFromSource derives the member key from the source's primary key.
func KeyFromSource(sourceKey string) MemberKey {
	return truncatedSum("k\x00", sourceKey)
}

// KeyFromIdentifier derives the member key from a member's primary
// normalised identifier, for sources without a primary key.
func KeyFromIdentifier(id Identifier) MemberKey {
	return truncatedSum("i\x00"+id.Kind.String()+"\x00", id.Value)
}

func truncatedSum(prefix, s string) MemberKey {
	h := sha256.New()
	h.Write([]byte(prefix))
	h.Write([]byte(s))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	var k MemberKey
	copy(k[:], sum[:])
	return k
}

// Fingerprint summarises what was sent for a member: its identifiers and its
// consent. Two fingerprints differ exactly when something must be re-sent.
type Fingerprint [16]byte

// FingerprintOf computes the fingerprint of sorted identifiers and consent.
// ids must be sorted with SortIdentifiers.
func FingerprintOf(ids []Identifier, c Consent) Fingerprint {
	// One hash over a buffer on the stack, not a digest written piece by
	// piece: this runs for every member planned, and a hash.Hash made
	// each write's bytes escape to the heap. The bytes hashed are the
	// same (each identifier's kind, flag, value and a zero, then 0xff
	// and the consent), so fingerprints in state stay valid.
	var stack [1024]byte
	buf := stack[:0]
	for _, id := range ids {
		flag := byte(0)
		v := id.Value
		switch {
		case id.Sealed:
			// The digest only: the sealed rest differs on every sealing.
			flag, v = flagSealed, sealedDigest(v)
		case id.Hashed:
			flag = 1
		}
		buf = append(buf, byte(id.Kind), flag)
		buf = append(buf, v...)
		buf = append(buf, 0)
	}
	buf = append(buf, 0xff, byte(c.AdUserData), byte(c.AdPersonalization))
	sum := sha256.Sum256(buf)
	var f Fingerprint
	copy(f[:], sum[:])
	return f
}

// IdentifierID is a compact, collision-resistant handle for one identifier
// value, used to count which identifiers the audience still carries.
type IdentifierID uint64

// IDOf returns the compact handle of id. For hashed identifiers it is taken
// from the hash itself; clear values are hashed first.
func IDOf(id Identifier) IdentifierID {
	if id.Hashed && len(id.Value) == 64 {
		var b [8]byte
		if _, err := hex.Decode(b[:], []byte(id.Value[:16])); err == nil {
			return IdentifierID(binary.BigEndian.Uint64(b[:]) ^ uint64(id.Kind))
		}
	}
	sum := sha256.Sum256([]byte(id.Value))
	return IdentifierID(binary.BigEndian.Uint64(sum[:8]) ^ uint64(id.Kind))
}

// Flags of a packed identifier.
const (
	flagClear  = 0 // a clear value, length-prefixed
	flagHash   = 1 // 32 raw bytes of a SHA-256 hex digest
	flagOther  = 2 // hashed, but not 64 lowercase hex digits: stored as written
	flagSealed = 3 // a sealed value (seal.go), length-prefixed
)

// EncodeIdentifiers packs identifiers for storage: per identifier a kind
// byte, a flag byte, then 32 raw hash bytes for hashed values or a
// length-prefixed clear value. Hex is decoded to halve the size.
func EncodeIdentifiers(dst []byte, ids []Identifier) []byte {
	// Grown once to an upper bound: this runs for every member planned.
	size := 0
	for _, id := range ids {
		size += 2 + binary.MaxVarintLen64 + max(len(id.Value), 32)
	}
	dst = slices.Grow(dst, size)
	for _, id := range ids {
		if id.Hashed && !id.Sealed {
			if out, ok := appendHash(append(dst, byte(id.Kind), flagHash), id.Value); ok {
				dst = out
				continue
			}
		}
		flag := byte(flagClear)
		switch {
		case id.Sealed:
			flag = flagSealed
		case id.Hashed:
			flag = flagOther
		}
		dst = append(dst, byte(id.Kind), flag)
		dst = binary.AppendUvarint(dst, uint64(len(id.Value)))
		dst = append(dst, id.Value...)
	}
	return dst
}

var errCorrupt = errors.New("corrupt identifier encoding")

// DecodeIdentifiers reverses EncodeIdentifiers. It runs for every member
// uploaded, so it allocates twice: the identifiers, and one string their
// values share, sized by a first pass that also checks the encoding.
func DecodeIdentifiers(b []byte) ([]Identifier, error) {
	count, size := 0, 0
	err := walkEncoded(b, func(_ Kind, flag byte, v []byte) {
		count++
		size += decodedLen(flag, v)
	})
	if err != nil || count == 0 {
		return nil, err
	}
	var sb strings.Builder
	sb.Grow(size)
	out := make([]Identifier, 0, count)
	_ = walkEncoded(b, func(kind Kind, flag byte, v []byte) {
		if flag == flagHash {
			var h [64]byte
			hex.Encode(h[:], v)
			sb.Write(h[:])
		} else {
			sb.Write(v)
		}
		out = append(out, Identifier{Kind: kind, Hashed: flag == flagHash || flag == flagOther, Sealed: flag == flagSealed})
	})
	all, i := sb.String(), 0
	_ = walkEncoded(b, func(_ Kind, flag byte, v []byte) {
		n := decodedLen(flag, v)
		out[i].Value, all = all[:n], all[n:]
		i++
	})
	return out, nil
}

func decodedLen(flag byte, v []byte) int {
	if flag == flagHash {
		return 2 * len(v)
	}
	return len(v)
}

// walkEncoded calls fn with each packed identifier's kind, flag and value
// bytes (raw hash bytes when flag is 1), or reports why b is corrupt.
func walkEncoded(b []byte, fn func(kind Kind, flag byte, v []byte)) error {
	for len(b) > 0 {
		if len(b) < 2 {
			return errCorrupt
		}
		kind, flag := Kind(b[0]), b[1]
		b = b[2:]
		if kind == KindInvalid || kind >= numKinds {
			return fmt.Errorf("%w: kind %d", errCorrupt, kind)
		}
		switch flag {
		case flagHash:
			if len(b) < 32 {
				return errCorrupt
			}
			fn(kind, flag, b[:32])
			b = b[32:]
		case flagClear, flagOther, flagSealed:
			n, w := binary.Uvarint(b)
			if w <= 0 || uint64(len(b)-w) < n {
				return errCorrupt
			}
			fn(kind, flag, b[w:w+int(n)])
			b = b[w+int(n):]
		default:
			return fmt.Errorf("%w: flag %d", errCorrupt, flag)
		}
	}
	return nil
}
