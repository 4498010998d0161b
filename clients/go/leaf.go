package candor

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// The event leaf, byte for byte as docs/leaf-format.md defines it.

const leafMagic = "candor/event/v1\n"

// LeafSignature is the producer-signature part of a leaf: the batch signature and this event's
// place in the signed batch.
type LeafSignature struct {
	KeyID      uint32
	Signature  []byte
	BatchSize  uint32
	BatchIndex uint32
	Path       [][]byte
}

// Leaf is what the log hashes: the event as sent, plus what the log added.
type Leaf struct {
	ReceivedAtNs uint64
	AuthMethod   uint8
	Producer     string
	Event        []byte
	Signature    *LeafSignature
}

// Encode writes the leaf (docs/leaf-format.md §The leaf).
func (l Leaf) Encode() ([]byte, error) {
	if len(l.Producer) < 1 || len(l.Producer) > 255 {
		return nil, fmt.Errorf("candor: leaf producer must be 1 to 255 bytes")
	}
	if len(l.Event) < 1 || len(l.Event) > 0xffff {
		return nil, fmt.Errorf("candor: leaf event must be 1 to 65535 bytes")
	}
	b := make([]byte, 0, 32+len(l.Producer)+len(l.Event)+80+32*len(pathOf(l.Signature)))
	b = append(b, leafMagic...)
	b = binary.BigEndian.AppendUint64(b, l.ReceivedAtNs)
	b = append(b, l.AuthMethod, byte(len(l.Producer)))
	b = append(b, l.Producer...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(l.Event)))
	b = append(b, l.Event...)
	if s := l.Signature; s == nil {
		b = append(b, 0)
	} else {
		if len(s.Signature) != 64 || len(s.Path) > 12 {
			return nil, fmt.Errorf("candor: leaf signature must be 64 bytes with a path of at most 12 hashes")
		}
		b = append(b, 1)
		b = binary.BigEndian.AppendUint32(b, s.KeyID)
		b = append(b, s.Signature...)
		b = binary.BigEndian.AppendUint32(b, s.BatchSize)
		b = binary.BigEndian.AppendUint32(b, s.BatchIndex)
		b = append(b, byte(len(s.Path)))
		for _, h := range s.Path {
			b = append(b, h...)
		}
	}
	if len(b) > 0xffff {
		return nil, fmt.Errorf("candor: the leaf is %d bytes, over the 65535 of a tlog-tiles entry", len(b))
	}
	return b, nil
}

func pathOf(s *LeafSignature) [][]byte {
	if s == nil {
		return nil
	}
	return s.Path
}

// LeafHash is RFC 9162's SHA-256(0x00 || leaf), tlog's RecordHash.
func LeafHash(leaf []byte) tlog.Hash { return tlog.RecordHash(leaf) }

// EventHash is SHA-256 of an event's canonical bytes.
func EventHash(event []byte) [32]byte { return sha256.Sum256(event) }

// batchTree is the RFC 9162 Merkle tree over a batch's event hashes (docs/leaf-format.md
// §Producer signatures): leaf i hashes to SHA-256(0x00 || SHA-256(event_i)).
type batchTree struct{ leaves []tlog.Hash }

func newBatchTree(events [][]byte) batchTree {
	t := batchTree{leaves: make([]tlog.Hash, len(events))}
	for i, e := range events {
		h := EventHash(e)
		t.leaves[i] = tlog.RecordHash(h[:])
	}
	return t
}

// split is RFC 9162 §2.1.1's k: the largest power of two below n.
func split(n int) int {
	k := 1
	for k*2 < n {
		k *= 2
	}
	return k
}

func mth(l []tlog.Hash) tlog.Hash {
	if len(l) == 1 {
		return l[0]
	}
	k := split(len(l))
	return tlog.NodeHash(mth(l[:k]), mth(l[k:]))
}

// path is RFC 9162 §2.1.3.1's PATH(m, D[n]), leaf-side first.
func path(m int, l []tlog.Hash) [][]byte {
	if len(l) <= 1 {
		return nil
	}
	k := split(len(l))
	if m < k {
		h := mth(l[k:])
		return append(path(m, l[:k]), h[:])
	}
	h := mth(l[:k])
	return append(path(m-k, l[k:]), h[:])
}

func (t batchTree) root() tlog.Hash     { return mth(t.leaves) }
func (t batchTree) path(i int) [][]byte { return path(i, t.leaves) }

// BatchStatement is the text a producer signs for a batch of n events with tree root r.
func BatchStatement(n int, r tlog.Hash) string {
	return fmt.Sprintf("candor/event-batch/v1\n%d\n%s\n", n, base64.StdEncoding.EncodeToString(r[:]))
}
