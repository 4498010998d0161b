package candor

import (
	"context"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	pb "candor.dev/go/gen/candorv1"
)

// maxTracked bounds memory: sessions never ended and reviews never executed are forgotten first.
const maxTracked = 100_000

// compactRange is the RFC 9162 Merkle root of a growing list, kept as the roots of its perfect
// subtrees (at most log2(n) hashes).
type compactRange struct {
	hashes []tlog.Hash
	sizes  []int
}

func (r *compactRange) append(h tlog.Hash) {
	r.hashes, r.sizes = append(r.hashes, h), append(r.sizes, 1)
	for n := len(r.sizes); n >= 2 && r.sizes[n-1] == r.sizes[n-2]; n = len(r.sizes) {
		r.hashes[n-2] = tlog.NodeHash(r.hashes[n-2], r.hashes[n-1])
		r.sizes[n-2] *= 2
		r.hashes, r.sizes = r.hashes[:n-1], r.sizes[:n-1]
	}
}

func (r *compactRange) root() []byte {
	if len(r.hashes) == 0 {
		return nil
	}
	h := r.hashes[len(r.hashes)-1]
	for i := len(r.hashes) - 2; i >= 0; i-- {
		h = tlog.NodeHash(r.hashes[i], h)
	}
	return h[:]
}

type session struct {
	digest                  compactRange
	count, statements, deny uint64
	seq                     uint64
}

// sessions numbers a session's events (seq) and keeps what session.ended seals: the counts and
// the Merkle root over the session's event hashes in seq order (docs/leaf-format.md §Session digest).
type sessions struct {
	mu    sync.Mutex
	m     map[string]*session
	order []string
}

func newSessions() *sessions { return &sessions{m: map[string]*session{}} }

func (s *sessions) get(id string) *session {
	x := s.m[id]
	if x == nil {
		if len(s.m) >= maxTracked {
			for len(s.order) > 0 && s.m[s.order[0]] == nil {
				s.order = s.order[1:]
			}
			delete(s.m, s.order[0])
			s.order = s.order[1:]
		}
		x = &session{}
		s.m[id] = x
		s.order = append(s.order, id)
	}
	return x
}

// encodeChecked encodes an event, refusing one of more than limit bytes (if limit > 0).
func encodeChecked(ev *pb.Event, limit int) ([]byte, error) {
	b, err := Encode(ev)
	if err == nil && limit > 0 && len(b) > limit {
		err = invalidf("event", "event is %d bytes; the limit is %d", len(b), limit)
	}
	return b, err
}

// track gives ev its seq if it belongs to a session, encodes it (at most limit bytes), and counts
// it. An event refused here takes no seq.
func (s *sessions) track(ev *pb.Event, limit int) ([]byte, error) {
	if ev.SessionId == "" {
		return encodeChecked(ev, limit)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.get(ev.SessionId)
	if ev.Seq == 0 {
		ev.Seq = x.seq + 1
	}
	b, err := encodeChecked(ev, limit)
	if err != nil {
		return nil, err
	}
	x.seq = ev.Seq
	if ev.Type == "session.ended" {
		delete(s.m, ev.SessionId)
		return b, nil
	}
	h := EventHash(b)
	x.digest.append(tlog.RecordHash(h[:]))
	x.count++
	switch ev.Type {
	case "query.executed":
		x.statements++
	case "query.denied":
		x.deny++
	}
	return b, nil
}

// seal fills what the client tracked into a session.ended the caller left zero.
func (s *sessions) seal(e *SessionEnded) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.m[e.SessionID]
	if x == nil {
		return
	}
	if e.StatementCount == 0 {
		e.StatementCount = x.statements
	}
	if e.DeniedCount == 0 {
		e.DeniedCount = x.deny
	}
	if e.EventCount == 0 {
		e.EventCount = x.count
	}
	if e.StreamDigest == nil {
		e.StreamDigest = x.digest.root()
	}
}

// reviewStatements remembers each review's statement commitment for its execution events.
type reviewStatements struct {
	mu    sync.Mutex
	m     map[string][]byte
	order []string
}

func newReviewStatements() *reviewStatements { return &reviewStatements{m: map[string][]byte{}} }

func (r *reviewStatements) put(id string, c []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.m) >= maxTracked {
		for len(r.order) > 0 && r.m[r.order[0]] == nil {
			r.order = r.order[1:]
		}
		delete(r.m, r.order[0])
		r.order = r.order[1:]
	}
	r.m[id] = c
	r.order = append(r.order, id)
}

func (r *reviewStatements) take(id string, forget bool) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.m[id]
	if forget {
		delete(r.m, id)
	}
	return c
}

// producerActor is the actor of the producer's own events (heartbeats, gaps) unless one is given.
func (c *Client) producerActor(a Actor) Actor {
	if a.ID != "" {
		return a
	}
	return Actor{ID: c.o.Producer, Type: pb.ActorType_ACTOR_TYPE_SYSTEM}
}

// Record builds the event, fills its envelope, and returns its verified receipt once it is
// durable in the log. The client fills what it tracks: a session's seq numbers and, in
// session.ended, its counts and stream digest; a review execution's statement commitment.
func (c *Client) Record(ctx context.Context, e Event) (*Recorded, error) {
	p, err := c.Submit(ctx, e)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// Submit is Record without the wait: it returns once the event is queued.
func (c *Client) Submit(ctx context.Context, e Event) (*Pending, error) {
	b, openings, err := c.encode(e)
	if err != nil {
		return nil, err
	}
	return c.enqueue(ctx, b, openings)
}

// encode builds the event with what the client tracks, fills its envelope, and encodes it.
func (c *Client) encode(e Event) ([]byte, []Opening, error) {
	switch x := e.(type) {
	case SessionEnded:
		c.sessions.seal(&x)
		e = x
	case ReviewExecution:
		if x.StatementCommitment == nil {
			x.StatementCommitment = c.reviews.take(x.ReviewID, x.Stage == "completed")
		}
		e = x
	case Heartbeat:
		x.Actor = c.producerActor(x.Actor)
		e = x
	case Gap:
		x.Actor = c.producerActor(x.Actor)
		e = x
	}
	d := e.Draft()
	if r, ok := d.Event.Body.(*pb.Event_ReviewRequested); ok && r.ReviewRequested.Statement != nil {
		c.reviews.put(r.ReviewRequested.ReviewId, r.ReviewRequested.Statement.Commitment)
	}
	b, err := c.envelope(d.Event)
	return b, d.Openings, err
}
