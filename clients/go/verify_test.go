package candor

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc"

	pb "candor.dev/go/gen/candorv1"
)

// Answers from a real log, changed in transit (a gRPC interceptor between the client and the
// wire), must be refused with an error that says what does not verify.

func tampering(change func(*pb.SubmitBatchResponse)) []grpc.DialOption {
	return []grpc.DialOption{grpc.WithInsecure(), grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply interface{}, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if r, ok := reply.(*pb.SubmitBatchResponse); ok && err == nil {
			change(r)
		}
		return err
	})}
}

func mustRefuse(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("a tampered answer was accepted (want an error about %q)", want)
	}
	if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q: want ErrVerification about %q", err, want)
	}
}

func stmt(s string) StatementExecuted {
	return StatementExecuted{Common: Common{Actor: alice, Resource: prod, SessionID: "s-" + s}, Statement: "SELECT * FROM t WHERE id = " + s}
}

func TestRefusesTamperedAnswers(t *testing.T) {
	l := newLog(t)
	// Two events first, so that the proofs below have hashes to change.
	base := l.client(t, Options{})
	for _, s := range []string{"1", "2"} {
		if _, err := base.Record(ctx(t), stmt(s)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, want string
		change     func(*pb.SubmitBatchResponse)
	}{
		{"a proof hash", "inclusion proof", func(r *pb.SubmitBatchResponse) { r.Acks[0].InclusionProof[0][3] ^= 1 }},
		{"the checkpoint signature", "checkpoint signature", func(r *pb.SubmitBatchResponse) {
			i := strings.LastIndex(r.Checkpoint, " ") + 5
			b := []byte(r.Checkpoint)
			b[i] ^= 2 // one base64 character of the signature
			r.Checkpoint = string(b)
		}},
		{"the checkpoint's root", "checkpoint signature", func(r *pb.SubmitBatchResponse) {
			r.Checkpoint = strings.Replace(r.Checkpoint, "\n", "\n ", 1)
		}},
		{"the leaf hash", "leaf hash", func(r *pb.SubmitBatchResponse) { r.Acks[0].LeafHash[0] ^= 1 }},
		{"the receive time", "leaf hash", func(r *pb.SubmitBatchResponse) { r.Acks[0].ReceivedAt.Nanos++ }},
		{"the producer", "producer", func(r *pb.SubmitBatchResponse) { r.Producer = "other" }},
		{"the tree size", "tree size", func(r *pb.SubmitBatchResponse) { r.Acks[0].TreeSize++ }},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gw := l.client(t, Options{DialOptions: tampering(c.change)})
			_, err := gw.Record(ctx(t), stmt(string(rune('a'+i))))
			mustRefuse(t, err, c.want)
		})
	}
}

// A log that shows this client one history, then (after a failover) a fork of it signed with the
// same key, is caught on the first receipt from the fork: its checkpoint is not consistent with
// the one accepted before.
func TestRefusesAForkedCheckpoint(t *testing.T) {
	a := newLog(t)
	b := a.twin()
	// b takes events a never sees: from now on the two logs disagree about index 0. Two of them,
	// so that b is ahead of what the client will show it: shown a checkpoint of its own size with
	// another root, b itself would stop sequencing (docs/fencing.md) and this would test the log,
	// not the client's consistency check.
	for _, s := range []string{"on-b", "on-b-2"} {
		if _, err := b.client(t, Options{}).Record(ctx(t), stmt(s)); err != nil {
			t.Fatal(err)
		}
	}
	gw := a.client(t, Options{Addresses: []string{a.grpc, b.grpc}})
	first, err := gw.Record(ctx(t), stmt("on-a"))
	if err != nil {
		t.Fatal(err)
	}
	if gw.LatestCheckpoint().Size != 1 || first.Receipt.Checkpoint != gw.LatestCheckpoint().Note {
		t.Fatalf("accepted %+v", gw.LatestCheckpoint())
	}
	a.kill() // the client fails over to b, which answers with a valid signature on a forked tree
	_, err = gw.Record(ctx(t), stmt("after-failover"))
	mustRefuse(t, err, "not consistent")
	if gw.LatestCheckpoint().Note != first.Receipt.Checkpoint {
		t.Fatal("the client moved on to the forked checkpoint")
	}

	// Without the earlier checkpoint (a fresh client), b's answers verify: the refusal above is the
	// consistency check, not a broken log.
	if _, err := b.client(t, Options{}).Record(ctx(t), stmt("fresh")); err != nil {
		t.Fatal(err)
	}
}
