package candor

import (
	"bytes"
	"testing"
	"time"

	pb "candor.dev/go/gen/candorv1"
)

var (
	alice = Actor{ID: "usr_alice", Display: "alice@example.com"}
	prod  = &Resource{Name: "pg-prod", Type: "database", Tags: map[string]string{"env": "prod"}}
)

func TestRecordsAReviewedQueryWithVerifiedReceipts(t *testing.T) {
	l := newLog(t)
	gw := l.client(t, Options{})
	c := ctx(t)
	req, err := gw.Record(c, ReviewRequested{Common: Common{Actor: alice, Resource: prod}, ReviewID: "rev_1", Kind: pb.ReviewKind_REVIEW_KIND_ONE_TIME_COMMAND, Statement: "UPDATE accounts SET plan = 'pro' WHERE id = 42", Justification: "ticket 7"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Record(c, ReviewApproved{Common: Common{Actor: Actor{ID: "usr_bob"}, Resource: prod}, ReviewID: "rev_1"}); err != nil {
		t.Fatal(err)
	}
	done, err := gw.Record(c, ReviewExecution{Common: Common{Actor: alice, Resource: prod, SessionID: "s1"}, Stage: "completed", ReviewID: "rev_1", Rows: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Recorded{req, done} {
		leaf, err := VerifyReceipt(r.Receipt, []string{l.vkey})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(leaf.Event, r.EventBytes) || leaf.Producer != "gw" || leaf.Signature == nil {
			t.Fatalf("the receipt's leaf is not the event sent, signed by gw: %+v", leaf)
		}
	}
	if done.Receipt.Index <= req.Receipt.Index {
		t.Fatalf("indexes %d then %d", req.Receipt.Index, done.Receipt.Index)
	}
	// The openings open the commitments in the logged event: statement, justification, actor.display.
	var ev pb.Event
	if err := unmarshal(req.EventBytes, &ev); err != nil {
		t.Fatal(err)
	}
	body := ev.GetReviewRequested()
	if len(req.Openings) != 3 || !req.Openings[0].Opens(body.Statement.Commitment) || !req.Openings[1].Opens(body.JustificationCommitment) || !req.Openings[2].Opens(ev.Actor.DisplayCommitment) {
		t.Fatalf("openings do not open the event's commitments: %+v", req.Openings)
	}
	// Executed what was approved: the execution carries the request's statement commitment.
	var exec pb.Event
	_ = unmarshal(done.EventBytes, &exec)
	if !bytes.Equal(exec.GetReviewExecution().StatementCommitment, body.Statement.Commitment) {
		t.Fatal("review.execution.completed does not carry the statement commitment of review.requested")
	}
	if gw.LatestCheckpoint() == nil || gw.LatestCheckpoint().Size < 3 {
		t.Fatalf("latest checkpoint %+v", gw.LatestCheckpoint())
	}
}

// A gateway that lost events says so: audit.gap, logged with the producer as its (system) actor,
// a failure outcome, and LastSeq defaulting to FirstSeq, as the TypeScript SDK's producerEvents.gap.
func TestRecordsAProducerGap(t *testing.T) {
	l := newLog(t)
	gw := l.client(t, Options{})
	c := ctx(t)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lost, err := gw.Record(c, Gap{Reason: "buffer_overflow", FirstSeq: 17, LastSeq: 42, LostCount: 26, From: from, To: from.Add(2500 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	one, err := gw.Record(c, Gap{Reason: "crash", FirstSeq: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Recorded{lost, one} {
		leaf, err := VerifyReceipt(r.Receipt, []string{l.vkey})
		if err != nil {
			t.Fatal(err)
		}
		var ev pb.Event
		if err := unmarshal(leaf.Event, &ev); err != nil {
			t.Fatal(err)
		}
		g := ev.GetProducerGap()
		if ev.Type != "audit.gap" || ev.Actor.Id != "gw" || ev.Actor.Type != pb.ActorType_ACTOR_TYPE_SYSTEM || ev.Outcome != pb.Outcome_OUTCOME_FAILURE || g == nil {
			t.Fatalf("logged %v", &ev)
		}
		if r == lost && (g.FirstSeq != 17 || g.LastSeq != 42 || g.LostCount != 26 || !g.From.AsTime().Equal(from) || g.To.AsTime().Sub(from) != 2500*time.Millisecond) {
			t.Fatalf("logged gap %v", g)
		}
		if r == one && (g.FirstSeq != 5 || g.LastSeq != 5 || g.Reason != "crash") {
			t.Fatalf("logged gap %v", g)
		}
	}
}
