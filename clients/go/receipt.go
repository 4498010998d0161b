package candor

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	pb "candor.dev/go/gen/candorv1"
)

// ErrVerification is wrapped by every error about a log answer that does not verify: a bad
// checkpoint signature, a proof that does not reach the root, a leaf that is not the one sent, a
// checkpoint not consistent with one accepted before. Such answers are never retried: they are
// evidence that the log (or something between) misbehaves.
var ErrVerification = errors.New("candor: the log's answer does not verify")

func verifyErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrVerification, fmt.Sprintf(format, a...))
}

// Checkpoint is a verified C2SP tlog checkpoint.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	Note   string
}

// Receipt is the evidence that an event is in the log: its leaf, the leaf's inclusion proof and
// the signed checkpoint the proof reaches. VerifyReceipt re-checks one offline.
type Receipt struct {
	Index          int64
	TreeSize       int64
	LeafHash       tlog.Hash
	InclusionProof tlog.RecordProof
	Checkpoint     string
	Leaf           []byte
	// Duplicate: the event was logged before; this is its first leaf.
	Duplicate  bool
	ReceivedAt time.Time
}

// checkpoints verifies checkpoint notes with the log's keys and keeps the latest one accepted.
type checkpoints struct {
	verifiers note.Verifiers
	origin    string
	mu        sync.Mutex
	latest    *Checkpoint
}

func newCheckpoints(logKeys []string, origin string) (*checkpoints, error) {
	if len(logKeys) == 0 {
		return nil, errors.New("candor: give the log's verifier key (Options.LogKeys)")
	}
	var vs []note.Verifier
	for _, k := range logKeys {
		v, err := note.NewVerifier(strings.TrimSpace(k))
		if err != nil {
			return nil, fmt.Errorf("candor: log key %q: %v", k, err)
		}
		vs = append(vs, v)
	}
	if origin == "" {
		origin = vs[0].Name()
	}
	return &checkpoints{verifiers: note.VerifierList(vs...), origin: origin}, nil
}

// open checks a checkpoint's signature and parses its body (c2sp.org/tlog-checkpoint).
func (c *checkpoints) open(text string) (*Checkpoint, error) {
	n, err := note.Open([]byte(text), c.verifiers)
	if err != nil {
		return nil, verifyErr("checkpoint signature: %v", err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return nil, verifyErr("the checkpoint has %d lines, not origin, size and root", len(lines)-1)
	}
	if lines[0] != c.origin {
		return nil, verifyErr("the checkpoint is for origin %q, not %q", lines[0], c.origin)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return nil, verifyErr("the checkpoint's tree size %q is not a decimal number", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return nil, verifyErr("the checkpoint's root %q is not a base64 SHA-256 hash", lines[2])
	}
	cp := &Checkpoint{Origin: lines[0], Size: size, Note: text}
	copy(cp.Root[:], root)
	return cp, nil
}

// Latest is the newest checkpoint the client has accepted, or nil.
func (c *checkpoints) Latest() *Checkpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.latest
}

// advance accepts cp as the newest view of the log if it is consistent with the one accepted
// before: same root at the same size, and for a larger tree a consistency proof (fetched with
// prove) from the old size to the new. A smaller tree than one already accepted is a rollback
// unless the proof shows the old tree extends it, which is checked the same way the other way round.
func (c *checkpoints) advance(cp *Checkpoint, prove func(from, to int64) ([][]byte, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.latest
	switch {
	case old == nil:
	case cp.Size == old.Size:
		if cp.Root != old.Root {
			return verifyErr("fork: the log showed two roots for tree size %d (%x and %x)", cp.Size, old.Root, cp.Root)
		}
		return nil
	default:
		from, to := old, cp
		if cp.Size < old.Size {
			from, to = cp, old
		}
		proof, err := prove(from.Size, to.Size)
		if err != nil {
			return err
		}
		if err := tlog.CheckTree(toHashes(proof), to.Size, to.Root, from.Size, from.Root); err != nil {
			return verifyErr("the checkpoint of size %d is not consistent with the accepted one of size %d: %v", cp.Size, old.Size, err)
		}
		if cp.Size < old.Size {
			return nil // an older, consistent view (another server behind): keep the newer one
		}
	}
	c.latest = cp
	return nil
}

func toHashes(b [][]byte) []tlog.Hash {
	hs := make([]tlog.Hash, len(b))
	for i, h := range b {
		copy(hs[i][:], h)
		if len(h) != tlog.HashSize {
			hs[i] = tlog.Hash{} // wrong length: the proof then fails to verify
		}
	}
	return hs
}

// checkAcks rebuilds each event's leaf from the bytes sent and what the log says it added,
// checks its hash and its inclusion proof against cp, and returns the receipts.
func checkAcks(res *pb.SubmitBatchResponse, cp *Checkpoint, events [][]byte, sig func(i int) *LeafSignature) ([]Receipt, error) {
	if len(res.Acks) != len(events) {
		return nil, verifyErr("the log answered %d acknowledgements for %d events", len(res.Acks), len(events))
	}
	out := make([]Receipt, len(events))
	for i, ack := range res.Acks {
		if int64(ack.TreeSize) != cp.Size {
			return nil, verifyErr("the acknowledgement is for tree size %d, its checkpoint for %d", ack.TreeSize, cp.Size)
		}
		if ack.ReceivedAt == nil {
			return nil, verifyErr("the acknowledgement has no received_at")
		}
		var leaf []byte
		if ack.Duplicate {
			leaf = ack.Leaf
			l, err := ParseLeaf(leaf)
			if err != nil {
				return nil, verifyErr("the duplicate's leaf: %v", err)
			}
			if !bytes.Equal(l.Event, events[i]) {
				return nil, verifyErr("the log answered a duplicate whose leaf holds another event")
			}
			if l.Producer != res.Producer {
				return nil, verifyErr("the duplicate's leaf names producer %s, not %s", l.Producer, res.Producer)
			}
		} else {
			l := Leaf{ReceivedAtNs: uint64(ack.ReceivedAt.AsTime().UnixNano()), AuthMethod: uint8(res.AuthMethod), Producer: res.Producer, Event: events[i]}
			if sig != nil {
				l.Signature = sig(i)
			}
			var err error
			if leaf, err = l.Encode(); err != nil {
				return nil, err
			}
		}
		h := LeafHash(leaf)
		if !bytes.Equal(h[:], ack.LeafHash) {
			return nil, verifyErr("the log acknowledged leaf hash %x, but the leaf hashes to %x", ack.LeafHash, h)
		}
		proof := toHashes(ack.InclusionProof)
		if err := tlog.CheckRecord(proof, cp.Size, cp.Root, int64(ack.Index), h); err != nil {
			return nil, verifyErr("inclusion proof of index %d in tree size %d: %v", ack.Index, cp.Size, err)
		}
		out[i] = Receipt{Index: int64(ack.Index), TreeSize: cp.Size, LeafHash: h, InclusionProof: proof, Checkpoint: cp.Note, Leaf: leaf, Duplicate: ack.Duplicate, ReceivedAt: ack.ReceivedAt.AsTime()}
	}
	return out, nil
}

// VerifyReceipt re-checks a stored receipt offline: the checkpoint's signature with the log's
// keys, the leaf's hash, and its inclusion proof. It returns the parsed leaf.
func VerifyReceipt(r Receipt, logKeys []string) (*Leaf, error) {
	c, err := newCheckpoints(logKeys, "")
	if err != nil {
		return nil, err
	}
	cp, err := c.open(r.Checkpoint)
	if err != nil {
		return nil, err
	}
	if cp.Size != r.TreeSize {
		return nil, verifyErr("the receipt is for tree size %d, its checkpoint for %d", r.TreeSize, cp.Size)
	}
	if LeafHash(r.Leaf) != r.LeafHash {
		return nil, verifyErr("the receipt's leaf does not hash to its leaf hash")
	}
	if err := tlog.CheckRecord(r.InclusionProof, r.TreeSize, cp.Root, r.Index, r.LeafHash); err != nil {
		return nil, verifyErr("inclusion proof: %v", err)
	}
	return ParseLeaf(r.Leaf)
}

// ParseLeaf reads an event leaf (docs/leaf-format.md).
func ParseLeaf(b []byte) (*Leaf, error) {
	r := reader{b: b}
	if string(r.take(len(leafMagic))) != leafMagic {
		return nil, errors.New("not an event leaf (no candor/event/v1 magic)")
	}
	l := &Leaf{}
	l.ReceivedAtNs = r.u64()
	l.AuthMethod = r.u8()
	l.Producer = string(r.take(int(r.u8())))
	l.Event = r.take(int(r.u16()))
	if r.u8() == 1 {
		s := &LeafSignature{KeyID: r.u32(), Signature: r.take(64), BatchSize: r.u32(), BatchIndex: r.u32()}
		for n := int(r.u8()); n > 0; n-- {
			s.Path = append(s.Path, r.take(32))
		}
		l.Signature = s
	}
	if r.bad || len(r.b) != 0 {
		return nil, errors.New("malformed event leaf (truncated or trailing bytes)")
	}
	return l, nil
}

type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if n > len(r.b) {
		r.bad, r.b = true, nil
		return make([]byte, n)
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}
func (r *reader) u8() uint8   { return r.take(1)[0] }
func (r *reader) u16() uint16 { b := r.take(2); return uint16(b[0])<<8 | uint16(b[1]) }
func (r *reader) u32() uint32 {
	b := r.take(4)
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
func (r *reader) u64() uint64 { return uint64(r.u32())<<32 | uint64(r.u32()) }
