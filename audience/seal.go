package audience

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
)

// Some platforms must be sent a value in clear: an e-mail tool mails the
// address, and greets by the first name. audiencesync keeps such a value
// off its own disk all the same. The normaliser seals it: the identifier
// that carries it (Identifier.Sealed) holds the SHA-256 of the clear value,
// then the value encrypted (AES-256-GCM) under a key made at random when
// the process starts and never written anywhere. A sealed identifier rides
// with the member's others through planning and the plan's spill file; the
// destination opens it (Identifier.Open) while it encodes the request body.
// State never keeps one (StripSealed): what it keeps is the digest, inside
// the member's fingerprint, so a changed value is re-sent. Once the process
// ends, a sealed value left in a spill file can no longer be read by
// anyone.

// sealer is the process's sealing key, made on first use.
var sealer = sync.OnceValue(func() cipher.AEAD {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		panic("audience: no randomness for the sealing key: " + err.Error())
	}
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic("audience: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("audience: " + err.Error())
	}
	return aead
})

// sealDigest is the length of a sealed value's leading digest.
const sealDigest = sha256.Size

// AppendSealed appends the sealed form of clear, a normalised value of
// kind k, to dst: SHA-256 of the kind and the value, a nonce, and the
// value encrypted under the process's key (see above).
func AppendSealed(dst []byte, k Kind, clear []byte) []byte {
	aead := sealer()
	h := sha256.New()
	h.Write([]byte{byte(k), 0})
	h.Write(clear)
	dst = h.Sum(dst)
	start := len(dst)
	dst = append(dst, make([]byte, aead.NonceSize())...)
	nonce := dst[start:]
	if _, err := rand.Read(nonce); err != nil {
		panic("audience: no randomness to seal a value: " + err.Error())
	}
	return aead.Seal(dst, nonce, clear, []byte{byte(k)})
}

// errNotSealed is what Open says of a value that was not sealed by this
// process: made by another one (a spill file outliving its process), or
// damaged.
var errNotSealed = errors.New("not a value sealed by this process")

// Open returns the clear value of a sealed identifier. Call it only to
// write the value into a request body; never log, keep or return it in an
// error.
func (id Identifier) Open() (string, error) {
	if !id.Sealed {
		return "", errors.New("identifier is not sealed")
	}
	aead := sealer()
	v := id.Value
	if len(v) < sealDigest+aead.NonceSize()+aead.Overhead() {
		return "", errNotSealed
	}
	nonce := []byte(v[sealDigest : sealDigest+aead.NonceSize()])
	clear, err := aead.Open(nil, nonce, []byte(v[sealDigest+aead.NonceSize():]), []byte{byte(id.Kind)})
	if err != nil {
		return "", errNotSealed
	}
	return string(clear), nil
}

// sealedDigest is the digest a sealed value starts with: what fingerprints
// take of it.
func sealedDigest(v string) string {
	if len(v) < sealDigest {
		return v
	}
	return v[:sealDigest]
}

// HasSealed reports whether packed identifiers (EncodeIdentifiers) hold a
// sealed one.
func HasSealed(packed []byte) bool {
	found := false
	err := walkEncoded(packed, func(_ Kind, flag byte, _ []byte) { found = found || flag == flagSealed })
	return found && err == nil
}

// StripSealed returns packed identifiers without their sealed ones: what
// state may keep of them. It returns packed itself when it holds none.
func StripSealed(packed []byte) []byte {
	if !HasSealed(packed) {
		return packed
	}
	ids, _ := DecodeIdentifiers(packed) // HasSealed checked the encoding
	return EncodeIdentifiers(nil, WithoutSealed(ids))
}

// WithoutSealed returns ids without their sealed identifiers, reusing ids'
// array.
func WithoutSealed(ids []Identifier) []Identifier {
	out := ids[:0]
	for _, id := range ids {
		if !id.Sealed {
			out = append(out, id)
		}
	}
	return out
}
