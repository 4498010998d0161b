package candor

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand"
	"strconv"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "candor.dev/go/gen/candorv1"
)

// Options configures a Client. Addresses, Producer and LogKeys are required.
type Options struct {
	// Addresses of the log's gRPC endpoints (host:port). A batch that cannot be delivered to one
	// (UNAVAILABLE) is resent, byte for byte, to the next.
	Addresses []string
	// Token is the producer's bearer token (candor producer add).
	Token string
	// Producer is the ID this gateway is registered as; every receipt must name it.
	Producer string
	// Tenant is used for events that name none.
	Tenant string
	// SignerKey is the producer's signed-note private key (PRIVATE+KEY+<producer>+...), if it has one
	// registered: each batch is then signed once.
	SignerKey string
	// LogKeys are the log's verifier keys (the lines of its log.vkey).
	LogKeys []string
	// Origin is the log's checkpoint origin, if it is not the first key's name.
	Origin string
	// ProducerInfo is recorded in each event's envelope (its ID is always Producer).
	ProducerInfo *pb.ProducerInfo

	MaxEvents   int           // events per request and per signature; default 256, at most 4096
	Linger      time.Duration // how long a partial batch waits for more; default 5 ms
	MaxBuffered int           // events queued or in flight before Submit waits; default 10,000
	MaxInFlight int           // requests in flight; default 4

	RetryInitial time.Duration // first backoff ceiling; default 50 ms
	RetryMax     time.Duration // largest backoff ceiling; default 5 s
	GiveUpAfter  time.Duration // stop retrying a batch after this; default 2 minutes

	// DialOptions replace the default (plaintext) transport credentials, e.g. with TLS.
	DialOptions []grpc.DialOption
}

// Recorded is what Record returns: the verified receipt, the event as logged, and the openings
// of its commitments (keep them, encrypted, to disclose a field later).
type Recorded struct {
	Receipt    Receipt
	EventBytes []byte
	Openings   []Opening
}

// Pending is an event submitted and not yet acknowledged.
type Pending struct {
	done chan struct{}
	rec  *Recorded
	err  error
}

// Wait blocks until the event is durable in the log and its receipt verified, or it failed.
func (p *Pending) Wait(ctx context.Context) (*Recorded, error) {
	select {
	case <-p.done:
		return p.rec, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type item struct {
	bytes    []byte
	openings []Opening
	p        *Pending
}

// Client records events in a Candor log and verifies every acknowledgement before returning it.
// It is safe for concurrent use; events from concurrent callers share batches.
type Client struct {
	o        Options
	conns    []*grpc.ClientConn
	stubs    []pb.LogServiceClient
	cps      *checkpoints
	signer   note.Signer
	queue    chan item
	space    chan struct{} // one token per buffered event: backpressure
	slots    chan struct{} // one token per request in flight
	inflight sync.WaitGroup
	done     chan struct{}
	closeMu  sync.RWMutex
	closed   bool
	mu       sync.Mutex
	next     int    // the address to use next
	reqID    uint64 // request IDs, for tracing only
	sessions *sessions
	reviews  *reviewStatements
	// unchecked skips Validate: only the parity test sets it, to show the log the same bad events.
	unchecked bool
}

// New connects to the log (lazily: no round trip) and starts the batcher.
func New(o Options) (*Client, error) {
	if len(o.Addresses) == 0 || o.Producer == "" {
		return nil, errors.New("candor: Options.Addresses and Options.Producer are required")
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxEvents, 256)
	def(&o.MaxBuffered, 10_000)
	def(&o.MaxInFlight, 4)
	if o.MaxEvents < 1 || o.MaxEvents > 4096 {
		return nil, errors.New("candor: Options.MaxEvents must be 1 to 4096")
	}
	if o.Linger == 0 {
		o.Linger = 5 * time.Millisecond
	}
	if o.RetryInitial == 0 {
		o.RetryInitial = 50 * time.Millisecond
	}
	if o.RetryMax == 0 {
		o.RetryMax = 5 * time.Second
	}
	if o.GiveUpAfter == 0 {
		o.GiveUpAfter = 2 * time.Minute
	}
	cps, err := newCheckpoints(o.LogKeys, o.Origin)
	if err != nil {
		return nil, err
	}
	c := &Client{o: o, cps: cps, queue: make(chan item, o.MaxEvents), space: make(chan struct{}, o.MaxBuffered), slots: make(chan struct{}, o.MaxInFlight), done: make(chan struct{}), sessions: newSessions(), reviews: newReviewStatements()}
	if o.SignerKey != "" {
		s, err := note.NewSigner(o.SignerKey)
		if err != nil {
			return nil, fmt.Errorf("candor: Options.SignerKey: %v", err)
		}
		if s.Name() != o.Producer {
			return nil, fmt.Errorf("candor: Options.SignerKey is %s's; the producer is %s", s.Name(), o.Producer)
		}
		c.signer = s
	}
	dial := o.DialOptions
	if len(dial) == 0 {
		dial = []grpc.DialOption{grpc.WithInsecure()} // grpc 1.33 (Debian) predates credentials/insecure
	}
	for _, a := range o.Addresses {
		conn, err := grpc.Dial(a, dial...)
		if err != nil {
			c.closeConns()
			return nil, fmt.Errorf("candor: address %q: %v", a, err)
		}
		c.conns = append(c.conns, conn)
		c.stubs = append(c.stubs, pb.NewLogServiceClient(conn))
	}
	go c.batcher()
	return c, nil
}

// LatestCheckpoint is the newest checkpoint the client accepted, or nil before the first receipt.
// Every later one must be consistent with it.
func (c *Client) LatestCheckpoint() *Checkpoint { return c.cps.Latest() }

// envelope fills what the event leaves to the client (IDs, time, tenant, producer, seq) and
// encodes it canonically, as the TypeScript SDK does.
func (c *Client) envelope(ev *pb.Event) ([]byte, error) {
	ev = proto.Clone(ev).(*pb.Event)
	if ev.EventId == "" {
		ev.EventId = ULID(time.Now())
	}
	if ev.ProducerEventId == "" {
		ev.ProducerEventId = ev.EventId
	}
	if ev.OccurredAt == nil {
		ev.OccurredAt = timestamppb.Now()
	}
	if ev.TenantId == "" {
		ev.TenantId = c.o.Tenant
	}
	if ev.TenantId == "" {
		return nil, invalidf("event.tenant_id", "event.tenant_id is required (or set Options.Tenant)")
	}
	info := &pb.ProducerInfo{}
	if c.o.ProducerInfo != nil {
		info = proto.Clone(c.o.ProducerInfo).(*pb.ProducerInfo)
	}
	if ev.Producer != nil {
		proto.Merge(info, ev.Producer)
	}
	info.Id = c.o.Producer
	ev.Producer = info
	if c.unchecked {
		return c.sessions.track(ev, 0)
	}
	if err := Validate(ev); err != nil {
		return nil, err
	}
	return c.sessions.track(ev, MaxEventSize)
}

// enqueue queues an encoded event, waiting for room while MaxBuffered events are queued or in
// flight (backpressure).
func (c *Client) enqueue(ctx context.Context, b []byte, openings []Opening) (*Pending, error) {
	select {
	case c.space <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.closeMu.RLock()
	defer c.closeMu.RUnlock()
	if c.closed {
		<-c.space
		return nil, errors.New("candor: the client is closed")
	}
	p := &Pending{done: make(chan struct{})}
	c.queue <- item{bytes: b, openings: openings, p: p}
	return p, nil
}

// Encode is the canonical encoding of an event (docs/leaf-format.md §The event): fields in
// number order, which golang.org/protobuf's deterministic marshalling writes.
func Encode(ev *pb.Event) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(ev)
}

// batcher collects events into batches of MaxEvents, or fewer once the first has waited Linger.
func (c *Client) batcher() {
	defer close(c.done)
	for {
		first, ok := <-c.queue
		if !ok {
			break
		}
		batch := []item{first}
		timer := time.NewTimer(c.o.Linger)
	fill:
		for len(batch) < c.o.MaxEvents {
			select {
			case it, ok := <-c.queue:
				if !ok {
					break fill
				}
				batch = append(batch, it)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		c.slots <- struct{}{}
		c.inflight.Add(1)
		go func(batch []item) {
			defer c.inflight.Done()
			c.send(batch)
			<-c.slots
			for range batch {
				<-c.space
			}
		}(batch)
	}
	c.inflight.Wait()
}

func (c *Client) send(batch []item) {
	events := make([][]byte, len(batch))
	for i, it := range batch {
		events[i] = it.bytes
	}
	c.mu.Lock()
	c.reqID++
	req := &pb.SubmitBatchRequest{RequestId: c.reqID, Events: events}
	c.mu.Unlock()
	var sig func(int) *LeafSignature
	if c.signer != nil {
		tree := newBatchTree(events)
		s, err := c.signer.Sign([]byte(BatchStatement(len(events), tree.root())))
		if err != nil {
			c.fail(batch, err)
			return
		}
		req.Signature = &pb.BatchSignature{KeyId: c.signer.KeyHash(), Signature: s}
		sig = func(i int) *LeafSignature {
			return &LeafSignature{KeyID: c.signer.KeyHash(), Signature: s, BatchSize: uint32(len(events)), BatchIndex: uint32(i), Path: tree.path(i)}
		}
	}
	var res *pb.SubmitBatchResponse
	err := c.withRetries(func(ctx context.Context, stub pb.LogServiceClient, opts ...grpc.CallOption) (err error) {
		// The newest checkpoint accepted: a log whose store is behind it (a restored backup)
		// refuses to sequence instead of signing a second history (docs/fencing.md).
		if cp := c.cps.Latest(); cp != nil {
			ctx = metadata.AppendToOutgoingContext(ctx, "candor-checkpoint-bin", cp.Note)
		}
		res, err = stub.SubmitBatch(ctx, req, opts...)
		return err
	})
	if err != nil {
		c.fail(batch, err)
		return
	}
	receipts, err := c.verify(res, events, sig)
	if err != nil {
		c.fail(batch, err)
		return
	}
	for i, it := range batch {
		it.p.rec = &Recorded{Receipt: receipts[i], EventBytes: it.bytes, Openings: it.openings}
		close(it.p.done)
	}
}

// verify checks the answer: the producer it names, the checkpoint's signature and its
// consistency with the last one accepted, then every leaf and inclusion proof.
func (c *Client) verify(res *pb.SubmitBatchResponse, events [][]byte, sig func(int) *LeafSignature) ([]Receipt, error) {
	if res.Producer != c.o.Producer {
		return nil, verifyErr("the log recorded producer %s, not %s", res.Producer, c.o.Producer)
	}
	cp, err := c.cps.open(res.Checkpoint)
	if err != nil {
		return nil, err
	}
	receipts, err := checkAcks(res, cp, events, sig)
	if err != nil {
		return nil, err
	}
	// The proof may come from any of the addresses: it is checked against the two roots held here.
	err = c.cps.advance(cp, func(from, to int64) ([][]byte, error) {
		t := uint64(to)
		var p *pb.GetConsistencyProofResponse
		err := c.withRetries(func(ctx context.Context, stub pb.LogServiceClient, opts ...grpc.CallOption) (err error) {
			p, err = stub.GetConsistencyProof(ctx, &pb.GetConsistencyProofRequest{FromSize: uint64(from), ToSize: &t}, opts...)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("candor: consistency proof %d to %d: %w", from, to, err)
		}
		return p.Proof, nil
	})
	return receipts, err
}

func (c *Client) fail(batch []item, err error) {
	for _, it := range batch {
		it.p.err = err
		close(it.p.done)
	}
}

func (c *Client) auth(ctx context.Context) context.Context {
	if c.o.Token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.o.Token)
}

// withRetries makes a call until it is answered, the error is permanent, or GiveUpAfter.
// Resending a batch is safe: the request is the same bytes, and the log answers events it already
// holds (same producer_event_id) with their first receipt instead of logging them twice.
// UNAVAILABLE and DEADLINE_EXCEEDED move on to the next address; RESOURCE_EXHAUSTED is retried
// only with the server's grpc-retry-pushback-ms (without it, it is gRPC's permanent "message too
// large"). Backoff is exponential with full jitter, never shorter than the pushback.
func (c *Client) withRetries(call func(ctx context.Context, stub pb.LogServiceClient, opts ...grpc.CallOption) error) error {
	started := time.Now()
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		i := c.next
		c.mu.Unlock()
		stub := c.stubs[i]
		var trailer metadata.MD
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := call(c.auth(ctx), stub, grpc.Trailer(&trailer))
		cancel()
		if err == nil {
			return nil
		}
		code := status.Code(err)
		var pushback time.Duration
		if v := trailer.Get("grpc-retry-pushback-ms"); len(v) > 0 {
			if ms, perr := strconv.Atoi(v[0]); perr == nil {
				pushback = time.Duration(ms) * time.Millisecond
			}
		}
		retryable := code == codes.Unavailable || code == codes.DeadlineExceeded || (code == codes.ResourceExhausted && pushback > 0)
		if code == codes.Unavailable || code == codes.DeadlineExceeded {
			c.mu.Lock()
			if c.next == i {
				c.next = (i + 1) % len(c.stubs)
			}
			c.mu.Unlock()
		}
		ceiling := c.o.RetryInitial << attempt
		if ceiling > c.o.RetryMax || ceiling <= 0 {
			ceiling = c.o.RetryMax
		}
		delay := time.Duration(mrand.Int63n(int64(ceiling))) // full jitter
		if delay < pushback {
			delay = pushback
		}
		if !retryable || time.Since(started)+delay > c.o.GiveUpAfter {
			if tc := trailer.Get("candor-error-code"); len(tc) > 0 {
				return fmt.Errorf("candor: %s: %w", tc[0], err)
			}
			return fmt.Errorf("candor: %w", err)
		}
		time.Sleep(delay)
	}
}

// Close sends what is queued, waits for every answer, and closes the connections. Submit fails
// from then on.
func (c *Client) Close() error {
	c.closeMu.Lock()
	if !c.closed {
		c.closed = true
		close(c.queue)
	}
	c.closeMu.Unlock()
	<-c.done
	return c.closeConns()
}

func (c *Client) closeConns() error {
	var first error
	for _, conn := range c.conns {
		if err := conn.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ULID is a ULID for t: 48 bits of milliseconds and 80 random bits, Crockford base32.
func ULID(t time.Time) string {
	var out [26]byte
	ms := uint64(t.UnixMilli())
	for i := 9; i >= 0; i-- {
		out[i] = crockford[ms%32]
		ms /= 32
	}
	var r [16]byte
	_, _ = rand.Read(r[:])
	for i := 0; i < 16; i++ {
		out[10+i] = crockford[r[i]%32]
	}
	return string(out[:])
}

func unmarshal(b []byte, ev *pb.Event) error { return proto.Unmarshal(b, ev) }
