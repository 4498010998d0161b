package candor

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "candor.dev/go/gen/candorv1"
)

var (
	usr = Actor{ID: "usr_1"}
	pg  = &Resource{Name: "pg-prod"}
)

// query is a valid query.executed to break one field of.
func query(mutate func(ev *pb.Event)) Event {
	d := StatementExecuted{Common: Common{Actor: usr, Resource: pg, SessionID: "s-bad"}, Statement: "select 1"}.Draft()
	mutate(d.Event)
	return d
}

// badEvents: each breaks one rule of src/schema/validate.ts; field is the path the error names.
var badEvents = []struct {
	name, field string
	event       Event
}{
	{"no actor id", "event.actor.id", StatementExecuted{Common: Common{Resource: pg, SessionID: "s-bad"}, Statement: "select 1"}},
	{"unknown enum value", "event.actor.type", query(func(ev *pb.Event) { ev.Actor.Type = 99 })},
	{"unknown type", "event.type", query(func(ev *pb.Event) { ev.Type = "query.exploded" })},
	{"body of another type", "event.statement_executed", query(func(ev *pb.Event) { ev.Body = &pb.Event_Heartbeat{Heartbeat: &pb.Heartbeat{}} })},
	{"no resource", "event.resource", StatementExecuted{Common: Common{Actor: usr, SessionID: "s-bad"}, Statement: "select 1"}},
	{"no session id", "event.session_id", StatementExecuted{Common: Common{Actor: usr, Resource: pg}, Statement: "select 1"}},
	{"no source", "event.source", SessionStarted{Common: Common{Actor: usr, Resource: pg, SessionID: "s-bad2"}, Verb: pb.SessionVerb_SESSION_VERB_CONNECT}},
	{"no object", "event.object.name", PrivilegeChange{Common: Common{Actor: usr, Resource: pg}, Change: "granted", Grantee: "bob", Privileges: []string{"SELECT"}}},
	{"short commitment", "event.statement_executed.statement.commitment", query(func(ev *pb.Event) {
		ev.GetStatementExecuted().Statement.Commitment = make([]byte, 31)
	})},
	{"empty statement commitment", "event.statement_executed.statement.commitment", query(func(ev *pb.Event) {
		ev.GetStatementExecuted().Statement.Commitment = nil
	})},
	{"named commitment of 5 bytes", "event.commitments[0].digest", query(func(ev *pb.Event) {
		ev.Commitments = []*pb.NamedCommitment{{Field: "x", Digest: make([]byte, 5)}}
	})},
	{"commitment with no field", "event.commitments[0].field", query(func(ev *pb.Event) {
		ev.Commitments = []*pb.NamedCommitment{{Digest: make([]byte, 32)}}
	})},
	{"no vote decision", "event.review_vote_cast.decision", ReviewVoteCast{Common: Common{Actor: usr}, ReviewID: "rev_1"}},
	{"break-glass without a reason", "event.review_force_approved.reason_commitment", ReviewForceApproved{Common: Common{Actor: usr}, ReviewID: "rev_1", ForceGroup: "sre"}},
	{"expired from executing", "event.review_expired.previous_state", ReviewExpired{Common: Common{Actor: usr}, ReviewID: "rev_1", PreviousState: pb.ReviewState_REVIEW_STATE_EXECUTING}},
	{"one-time command without statement", "event.review_requested.statement.commitment", ReviewRequested{Common: Common{Actor: usr, Resource: pg}, ReviewID: "rev_1", Kind: pb.ReviewKind_REVIEW_KIND_ONE_TIME_COMMAND}},
	{"unknown execution without reason", "event.review_execution.reason", ReviewExecution{Common: Common{Actor: usr}, Stage: "unknown", ReviewID: "rev_1"}},
	{"grant without end", "event.access_grant.valid_until", GrantChange{Common: Common{Actor: usr, Resource: pg}, Change: "activated", GrantID: "g-1"}},
	{"no privileges", "event.db_privilege_change.privileges", PrivilegeChange{Common: Common{Actor: usr, Resource: pg, Object: &pb.DataObject{Name: "users"}}, Change: "granted", Grantee: "bob"}},
	{"update without old value", "event.column_change.old_value_commitment", ColumnChanged{Common: Common{Actor: usr, Resource: pg}, Database: "app", Table: "users", Column: "ssn", RowKey: "id=1",
		Operation: pb.ColumnOperation_COLUMN_OPERATION_UPDATE, NewValue: "x", ValueClass: pb.ValueClass_VALUE_CLASS_PII, CaptureMethod: pb.CaptureMethod_CAPTURE_METHOD_GATEWAY_OBSERVED, DBAccount: "app"}},
	{"ended with count, no digest", "event.session_ended.stream_digest", SessionEnded{Common: Common{Actor: usr, Resource: pg, SessionID: "s-never-seen"}, EventCount: 3}},
	{"gap backwards", "event.producer_gap.last_seq", Gap{Reason: "crash", FirstSeq: 10, LastSeq: 5}},
	{"gap without reason", "event.producer_gap.reason", Gap{FirstSeq: 1}},
	// 129 code points above U+FFFF are 258 UTF-16 code units, over the 256 of an identifier.
	{"identifier too long", "event.review_approved.review_id", ReviewApproved{Common: Common{Actor: usr}, ReviewID: strings.Repeat("\U00010400", 129)}},
	{"control character in identifier", "event.actor.id", StatementExecuted{Common: Common{Actor: Actor{ID: "usr\u0085"}, Resource: pg, SessionID: "s-bad"}, Statement: "select 1"}},
	{"string too long", "event.statement_denied.rule", StatementDenied{Common: Common{Actor: usr, Resource: pg, SessionID: "s-bad"}, Statement: "drop", Rule: strings.Repeat("r", 4097)}},
	{"time after 9999", "event.occurred_at", StatementExecuted{Common: Common{Actor: usr, Resource: pg, SessionID: "s-bad", OccurredAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, Statement: "select 1"}},
	{"negative nanos", "event.occurred_at.nanos", query(func(ev *pb.Event) { ev.OccurredAt = &timestamppb.Timestamp{Seconds: 1, Nanos: -1} })},
	{"duration of two signs", "event.heartbeat.interval.nanos", Draft{Event: &pb.Event{Type: "producer.heartbeat", Actor: &pb.Actor{Id: "gw", Type: pb.ActorType_ACTOR_TYPE_SYSTEM},
		Outcome: pb.Outcome_OUTCOME_SUCCESS, Body: &pb.Event_Heartbeat{Heartbeat: &pb.Heartbeat{Interval: &durationpb.Duration{Seconds: 1, Nanos: -1}}}}}},
	{"label without key", "event.labels[0].key", StatementExecuted{Common: Common{Actor: usr, Resource: pg, SessionID: "s-bad", Labels: map[string]string{"": "x"}}, Statement: "select 1"}},
	{"labels out of order", "event.resource.tags[1].key", query(func(ev *pb.Event) { ev.Resource.Tags = []*pb.Label{{Key: "b"}, {Key: "a"}} })},
	{"correction without event", "event.corrects.event_id", query(func(ev *pb.Event) { ev.Corrects = &pb.Correction{} })},
	{"unknown field", "event", query(func(ev *pb.Event) {
		ev.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 999, protowire.VarintType), 1))
	})},
	{"failed login without reason", "event.auth_login.failure_reason", Draft{Event: &pb.Event{Type: "auth.login.failed", Actor: &pb.Actor{Id: "usr_1", Type: pb.ActorType_ACTOR_TYPE_HUMAN},
		Outcome: pb.Outcome_OUTCOME_FAILURE, Source: &pb.Source{Ip: "192.0.2.1"}, Body: &pb.Event_AuthLogin{AuthLogin: &pb.AuthLogin{Method: "password"}}}}},
	{"too large", "event", StatementExecuted{Common: Common{Actor: usr, Resource: pg, SessionID: "s-bad", Labels: bigLabels()}, Statement: "select 1"}},
}

func bigLabels() map[string]string {
	m := map[string]string{}
	for _, k := range "abcdefghijklmnop" {
		m[string(k)] = strings.Repeat("v", 4000)
	}
	return m
}

// Each bad event is refused by Submit, before anything is sent, with an error that names the field.
// The client's only address has nothing listening: a round trip would fail as UNAVAILABLE instead.
func TestValidationRefusesBadEventsLocally(t *testing.T) {
	gw, err := New(Options{Addresses: []string{"127.0.0.1:1"}, Producer: "gw", Tenant: "org-1", LogKeys: []string{readCorpus(t).LogVerifierKey}, GiveUpAfter: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	for _, b := range badEvents {
		_, err := gw.Submit(ctx(t), b.event)
		var inv *InvalidEventError
		if !errors.As(err, &inv) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Submit returned %v, not an *InvalidEventError", b.name, err)
			continue
		}
		if inv.Field != b.field || !strings.Contains(inv.Message, b.field) || err.Error() != "candor: "+inv.Message {
			t.Errorf("%s: the error names %q: %v (want %s)", b.name, inv.Field, err, b.field)
		}
	}
}

// The log refuses each of the same events, with the message the client gave (the log calls the
// event events[0], the first of its batch), and takes the valid events the client lets through.
func TestValidationMatchesTheLog(t *testing.T) {
	l := newLog(t)
	gw := l.client(t, Options{})
	gw.unchecked = true
	c := ctx(t)
	for _, b := range badEvents {
		_, _, local := (&Client{o: gw.o, sessions: newSessions(), reviews: newReviewStatements()}).encode(b.event)
		_, err := gw.Record(c, b.event)
		var st interface{ GRPCStatus() *status.Status }
		if !errors.As(err, &st) {
			t.Errorf("%s: the log took it (%v); the client refuses it: %v", b.name, err, local)
			continue
		}
		s := st.GRPCStatus()
		msg := strings.ReplaceAll(s.Message(), "events[0]", "event")
		if s.Code() != codes.InvalidArgument {
			t.Errorf("%s: the log answered %v", b.name, s.Code())
		}
		var inv *InvalidEventError
		if !errors.As(local, &inv) || inv.Message != msg {
			t.Errorf("%s:\n log    %s\n client %v", b.name, msg, local)
		}
	}
	// Label keys in UTF-16 order: U+1F600 sorts before U+FFFD there, after it in UTF-8.
	if _, err := l.client(t, Options{}).Record(c, StatementExecuted{Common: Common{Actor: usr, Resource: pg, SessionID: "s-ok", Labels: map[string]string{"\uFFFD": "a", "\U0001F600": "b"}}, Statement: "select 1"}); err != nil {
		t.Fatalf("labels with keys above U+FFFF: %v", err)
	}
}
