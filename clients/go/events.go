package candor

import (
	"sort"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "candor.dev/go/gen/candorv1"
)

// Typed events, the same as the TypeScript SDK's (clients/gateway/events.ts): each takes the facts
// in plain values and commits to every sensitive one with a fresh salt. Commitment field names:
// "statement", "statement.params", "reason", "justification", "client_args", "old_value",
// "new_value", "actor.display", and for Common.Commit the names given.

// Event is anything Client.Record takes: it builds the event and the openings of its commitments.
type Event interface{ Draft() Draft }

// Draft is an event before the client fills its envelope (IDs, time, producer, seq).
type Draft struct {
	Event    *pb.Event
	Openings []Opening
}

// Draft makes a Draft an Event too: Client.Record(ctx, candor.Draft{Event: ev}) logs a raw event.
func (d Draft) Draft() Draft { return d }

// Resource is what an event acts on; Tags are sorted by key when encoded.
type Resource struct {
	ID, Name, Type, Subtype, Account string
	Tags                             map[string]string
}

// Actor is who acted. Display (an email or name) is committed as "actor.display", never sent.
type Actor struct {
	ID         string
	Type       pb.ActorType // default human
	Groups     []string
	Roles      []string
	OnBehalfOf string
	Display    string
	Auth       *pb.ActorAuth
}

// Common is what every event takes besides its own facts.
type Common struct {
	Actor    Actor
	TenantID string
	EventID  string // default a new ULID
	// ProducerEventID is the idempotency key (default the event ID). Derive it from the gateway's
	// own record IDs ("rev_42:vote:2") so that a restarted gateway resubmitting gets the first receipt.
	ProducerEventID string
	OccurredAt      time.Time // default now
	Outcome         pb.Outcome
	Source          *pb.Source
	Resource        *Resource
	Object          *pb.DataObject
	SessionID       string
	Seq             uint64
	Correlation     *pb.Correlation
	Labels          map[string]string
	Error           *pb.ErrorInfo
	// Commit holds further sensitive fields, committed under their names.
	Commit map[string]string
}

func labels(m map[string]string) []*pb.Label {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// The log wants them in JavaScript's order, by UTF-16 code units (not UTF-8 bytes: the two
	// differ for keys with code points above U+FFFF).
	sort.Slice(keys, func(i, j int) bool { return utf16Less(keys[i], keys[j]) })
	out := make([]*pb.Label, len(keys))
	for i, k := range keys {
		out[i] = &pb.Label{Key: k, Value: m[k]}
	}
	return out
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func dur(d *time.Duration) *durationpb.Duration {
	if d == nil {
		return nil
	}
	return durationpb.New(*d)
}

// draft builds the envelope around a body. openings holds those the body made; the envelope's
// (actor.display, then Commit's in name order) follow, as in the TypeScript SDK.
func draft(typ string, c Common, defOutcome pb.Outcome, openings []Opening, set func(*pb.Event)) Draft {
	a := c.Actor
	if a.Type == pb.ActorType_ACTOR_TYPE_UNSPECIFIED {
		a.Type = pb.ActorType_ACTOR_TYPE_HUMAN
	}
	actor := &pb.Actor{Id: a.ID, Type: a.Type, Groups: a.Groups, Roles: a.Roles, OnBehalfOf: a.OnBehalfOf, Auth: a.Auth}
	if a.Display != "" {
		actor.DisplayCommitment = commitTo("actor.display", a.Display, &openings)
	}
	outcome := c.Outcome
	if outcome == pb.Outcome_OUTCOME_UNSPECIFIED {
		outcome = defOutcome
	}
	ev := &pb.Event{
		Type: typ, Actor: actor, Outcome: outcome, Labels: labels(c.Labels),
		TenantId: c.TenantID, EventId: c.EventID, ProducerEventId: c.ProducerEventID, OccurredAt: ts(c.OccurredAt),
		Source: c.Source, Object: c.Object, SessionId: c.SessionID, Seq: c.Seq, Correlation: c.Correlation, Error: c.Error,
	}
	if r := c.Resource; r != nil {
		ev.Resource = &pb.Resource{Id: r.ID, Name: r.Name, Type: r.Type, Subtype: r.Subtype, Account: r.Account, Tags: labels(r.Tags)}
	}
	for _, l := range labels(c.Commit) {
		ev.Commitments = append(ev.Commitments, &pb.NamedCommitment{Field: l.Key, Digest: commitTo(l.Key, l.Value, &openings)})
	}
	set(ev)
	return Draft{Event: ev, Openings: openings}
}

func commitTo(field, value string, openings *[]Opening) []byte {
	d, o := Commit(field, value)
	*openings = append(*openings, o)
	return d
}

// maybe commits to an optional value ("" is no value).
func maybe(field, value string, openings *[]Opening) []byte {
	if value == "" {
		return nil
	}
	return commitTo(field, value, openings)
}

// StatementRef is a statement as a commitment, a fingerprint and a size; its text stays here.
func StatementRef(statement, params string, openings *[]Opening) *pb.StatementRef {
	return &pb.StatementRef{
		Commitment:       commitTo("statement", statement, openings),
		Fingerprint:      StatementFingerprint(statement),
		Size:             uint32(len(statement)),
		ParamsCommitment: maybe("statement.params", params, openings),
	}
}

const success, failure, denied, unknown = pb.Outcome_OUTCOME_SUCCESS, pb.Outcome_OUTCOME_FAILURE, pb.Outcome_OUTCOME_DENIED, pb.Outcome_OUTCOME_UNKNOWN

// ---- Sessions and statements ----

type SessionStarted struct {
	Common
	Verb                        pb.SessionVerb
	Protocol, ReviewID, GrantID string
}

func (e SessionStarted) Draft() Draft {
	return draft("session.started", e.Common, success, nil, func(ev *pb.Event) {
		ev.Body = &pb.Event_SessionStarted{SessionStarted: &pb.SessionStarted{Verb: e.Verb, Protocol: e.Protocol, ReviewId: e.ReviewID, GrantId: e.GrantID}}
	})
}

type SessionDenied struct {
	Common
	Reason, Rule string
}

func (e SessionDenied) Draft() Draft {
	return draft("session.denied", e.Common, denied, nil, func(ev *pb.Event) {
		ev.Body = &pb.Event_SessionDenied{SessionDenied: &pb.SessionDenied{Reason: e.Reason, Rule: e.Rule}}
	})
}

// SessionEnded: Client.Record fills the counts and StreamDigest from the session's events.
type SessionEnded struct {
	Common
	Duration                                *time.Duration
	ExitCode                                *int32
	StatementCount, DeniedCount, EventCount uint64
	StreamDigest                            []byte
	Truncated                               bool
}

func (e SessionEnded) Draft() Draft {
	return draft("session.ended", e.Common, success, nil, func(ev *pb.Event) {
		ev.Body = &pb.Event_SessionEnded{SessionEnded: &pb.SessionEnded{Duration: dur(e.Duration), ExitCode: e.ExitCode, StatementCount: e.StatementCount, DeniedCount: e.DeniedCount, EventCount: e.EventCount, StreamDigest: e.StreamDigest, Truncated: e.Truncated}}
	})
}

type StatementExecuted struct {
	Common
	Statement, Params, Operation string
	Tables                       []string
	Rows                         uint64
	Duration                     *time.Duration
}

func (e StatementExecuted) Draft() Draft {
	var o []Opening
	b := &pb.StatementExecuted{Operation: e.Operation, Tables: e.Tables, Statement: StatementRef(e.Statement, e.Params, &o), Rows: e.Rows, Duration: dur(e.Duration)}
	return draft("query.executed", e.Common, success, o, func(ev *pb.Event) { ev.Body = &pb.Event_StatementExecuted{StatementExecuted: b} })
}

type StatementDenied struct {
	Common
	Statement, Rule, Message, Operation string
	MatchedCount                        uint32
}

func (e StatementDenied) Draft() Draft {
	var o []Opening
	b := &pb.StatementDenied{Operation: e.Operation, Statement: StatementRef(e.Statement, "", &o), Rule: e.Rule, Message: e.Message, MatchedCount: e.MatchedCount}
	return draft("query.denied", e.Common, denied, o, func(ev *pb.Event) { ev.Body = &pb.Event_StatementDenied{StatementDenied: b} })
}

type StatementFailed struct {
	Common
	Statement, SQLState, ErrorClass, Operation string
}

func (e StatementFailed) Draft() Draft {
	var o []Opening
	b := &pb.StatementFailed{Operation: e.Operation, Statement: StatementRef(e.Statement, "", &o), Sqlstate: e.SQLState, ErrorClass: e.ErrorClass}
	return draft("query.failed", e.Common, failure, o, func(ev *pb.Event) { ev.Body = &pb.Event_StatementFailed{StatementFailed: b} })
}

// ---- The review workflow: one event per transition ----

// ApprovalPolicy is the policy a review is under.
type ApprovalPolicy = pb.ApprovalPolicy

type ReviewRequested struct {
	Common
	ReviewID                             string
	Kind                                 pb.ReviewKind
	Statement, Justification, ClientArgs string
	EnvVarKeys                           []string
	RequestedDuration                    *time.Duration
	Policy                               *ApprovalPolicy
}

func (e ReviewRequested) Draft() Draft {
	var o []Opening
	b := &pb.ReviewRequested{ReviewId: e.ReviewID, Kind: e.Kind, RequestedDuration: dur(e.RequestedDuration), EnvVarKeys: e.EnvVarKeys, Policy: e.Policy}
	if e.Statement != "" {
		b.Statement = StatementRef(e.Statement, "", &o)
	}
	b.ClientArgsCommitment = maybe("client_args", e.ClientArgs, &o)
	b.JustificationCommitment = maybe("justification", e.Justification, &o)
	return draft("review.requested", e.Common, success, o, func(ev *pb.Event) { ev.Body = &pb.Event_ReviewRequested{ReviewRequested: b} })
}

type ReviewVoteCast struct {
	Common
	ReviewID, Group, Reason, Channel string
	Decision                         pb.VoteDecision
	SelfVote                         bool
}

func (e ReviewVoteCast) Draft() Draft {
	var o []Opening
	b := &pb.ReviewVoteCast{ReviewId: e.ReviewID, Group: e.Group, Decision: e.Decision, ReasonCommitment: maybe("reason", e.Reason, &o), Channel: e.Channel, SelfVote: e.SelfVote}
	return draft("review.vote.cast", e.Common, success, o, func(ev *pb.Event) { ev.Body = &pb.Event_ReviewVoteCast{ReviewVoteCast: b} })
}

type ReviewApproved struct {
	Common
	ReviewID     string
	VoteEventIDs []string
	ValidUntil   time.Time
	SelfApproved bool
}

func (e ReviewApproved) Draft() Draft {
	b := &pb.ReviewApproved{ReviewId: e.ReviewID, VoteEventIds: e.VoteEventIDs, ValidUntil: ts(e.ValidUntil), SelfApproved: e.SelfApproved}
	return draft("review.approved", e.Common, success, nil, func(ev *pb.Event) { ev.Body = &pb.Event_ReviewApproved{ReviewApproved: b} })
}

type ReviewAutoApproved struct {
	Common
	ReviewID, RuleName string
	SkippedGroups      []string
	ValidUntil         time.Time
}

func (e ReviewAutoApproved) Draft() Draft {
	b := &pb.ReviewAutoApproved{ReviewId: e.ReviewID, RuleName: e.RuleName, SkippedGroups: e.SkippedGroups, ValidUntil: ts(e.ValidUntil)}
	return draft("review.auto_approved", e.Common, success, nil, func(ev *pb.Event) { ev.Body = &pb.Event_ReviewAutoApproved{ReviewAutoApproved: b} })
}

type ReviewForceApproved struct {
	Common
	ReviewID, ForceGroup, Reason string
	SkippedGroups                []string
	ValidUntil                   time.Time
}

func (e ReviewForceApproved) Draft() Draft {
	var o []Opening
	b := &pb.ReviewForceApproved{ReviewId: e.ReviewID, ForceGroup: e.ForceGroup, ReasonCommitment: maybe("reason", e.Reason, &o), SkippedGroups: e.SkippedGroups, ValidUntil: ts(e.ValidUntil)}
	return draft("review.force_approved", e.Common, success, o, func(ev *pb.Event) { ev.Body = &pb.Event_ReviewForceApproved{ReviewForceApproved: b} })
}

type ReviewRejected struct {
	Common
	ReviewID, Reason string
	PreviousState    pb.ReviewState // default pending
}

func (e ReviewRejected) Draft() Draft {
	var o []Opening
	prev := e.PreviousState
	if prev == pb.ReviewState_REVIEW_STATE_UNSPECIFIED {
		prev = pb.ReviewState_REVIEW_STATE_PENDING
	}
	b := &pb.ReviewRejected{ReviewId: e.ReviewID, ReasonCommitment: maybe("reason", e.Reason, &o), PreviousState: prev}
	return draft("review.rejected", e.Common, success, o, func(ev *pb.Event) { ev.Body = &pb.Event_ReviewRejected{ReviewRejected: b} })
}

type ReviewCancelled struct {
	Common
	ReviewID, Reason string
}

func (e ReviewCancelled) Draft() Draft {
	var o []Opening
	b := &pb.ReviewCancelled{ReviewId: e.ReviewID, ReasonCommitment: maybe("reason", e.Reason, &o)}
	return draft("review.cancelled", e.Common, success, o, func(ev *pb.Event) { ev.Body = &pb.Event_ReviewCancelled{ReviewCancelled: b} })
}

// ReviewExpired is a timer event: the actor defaults to the system.
type ReviewExpired struct {
	Common
	ReviewID      string
	PreviousState pb.ReviewState
	Deadline      time.Time
}

func (e ReviewExpired) Draft() Draft {
	c := e.Common
	if c.Actor.ID == "" {
		c.Actor = Actor{ID: "system", Type: pb.ActorType_ACTOR_TYPE_SYSTEM}
	}
	b := &pb.ReviewExpired{ReviewId: e.ReviewID, PreviousState: e.PreviousState, Deadline: ts(e.Deadline)}
	return draft("review.expired", c, success, nil, func(ev *pb.Event) { ev.Body = &pb.Event_ReviewExpired{ReviewExpired: b} })
}

type ReviewRevoked struct {
	Common
	ReviewID, Reason string
}

func (e ReviewRevoked) Draft() Draft {
	var o []Opening
	b := &pb.ReviewRevoked{ReviewId: e.ReviewID, ReasonCommitment: maybe("reason", e.Reason, &o)}
	return draft("review.revoked", e.Common, success, o, func(ev *pb.Event) { ev.Body = &pb.Event_ReviewRevoked{ReviewRevoked: b} })
}

// ReviewExecution is review.execution.<Stage>: "started", "completed" or "unknown". Client.Record
// fills StatementCommitment from the review's review.requested, so an auditor can check that what
// ran is what was approved.
type ReviewExecution struct {
	Common
	Stage               string
	ReviewID            string
	ExecutionSessionID  string // default Common.SessionID
	StatementCommitment []byte
	ExitCode            *int32
	Rows                uint64
	Reason              string
}

func (e ReviewExecution) Draft() Draft {
	sid := e.ExecutionSessionID
	if sid == "" {
		sid = e.SessionID
	}
	out := success
	if e.Stage == "unknown" {
		out = unknown
	}
	b := &pb.ReviewExecution{ReviewId: e.ReviewID, SessionId: sid, StatementCommitment: e.StatementCommitment, ExitCode: e.ExitCode, Rows: e.Rows, Reason: e.Reason}
	return draft("review.execution."+e.Stage, e.Common, out, nil, func(ev *pb.Event) { ev.Body = &pb.Event_ReviewExecution{ReviewExecution: b} })
}

// ---- Grants, privileges, column changes, producer liveness ----

// GrantChange is access.grant.<Change>: "activated", "expired" or "revoked".
type GrantChange struct {
	Common
	Change, GrantID, ReviewID, Reason string
	Roles                             []string
	ValidFrom, ValidUntil             time.Time
}

func (e GrantChange) Draft() Draft {
	var o []Opening
	b := &pb.AccessGrant{GrantId: e.GrantID, ReviewId: e.ReviewID, Roles: e.Roles, ValidFrom: ts(e.ValidFrom), ValidUntil: ts(e.ValidUntil), ReasonCommitment: maybe("reason", e.Reason, &o)}
	return draft("access.grant."+e.Change, e.Common, success, o, func(ev *pb.Event) { ev.Body = &pb.Event_AccessGrant{AccessGrant: b} })
}

// PrivilegeChange is db.privilege.<Change>: "granted" or "revoked". Common.Object names the object.
type PrivilegeChange struct {
	Common
	Change, Grantee, Grantor, Mechanism string
	Privileges                          []string
	WithGrantOption                     bool
	ExpiresAt                           time.Time
}

func (e PrivilegeChange) Draft() Draft {
	b := &pb.DbPrivilegeChange{Grantee: e.Grantee, Grantor: e.Grantor, Privileges: e.Privileges, WithGrantOption: e.WithGrantOption, Mechanism: e.Mechanism, ExpiresAt: ts(e.ExpiresAt)}
	return draft("db.privilege."+e.Change, e.Common, success, nil, func(ev *pb.Event) { ev.Body = &pb.Event_DbPrivilegeChange{DbPrivilegeChange: b} })
}

// RoleChange is db.role.<Change>: "granted" or "revoked".
type RoleChange struct {
	Common
	Change, Role, Member, Grantor, Mechanism string
}

func (e RoleChange) Draft() Draft {
	b := &pb.DbRoleChange{Role: e.Role, Member: e.Member, Grantor: e.Grantor, Mechanism: e.Mechanism}
	return draft("db.role."+e.Change, e.Common, success, nil, func(ev *pb.Event) { ev.Body = &pb.Event_DbRoleChange{DbRoleChange: b} })
}

// ColumnChanged is a change to a sensitive column; the old and new values become commitments.
type ColumnChanged struct {
	Common
	Database, Schema, Table, Column, RowKey string
	Operation                               pb.ColumnOperation
	OldValue, NewValue                      string
	ValueClass                              pb.ValueClass
	CaptureMethod                           pb.CaptureMethod
	DBAccount                               string
	ChangedAt                               time.Time
	TxID                                    string
	OldValueAuthoritative                   bool
}

func (e ColumnChanged) Draft() Draft {
	var o []Opening
	b := &pb.ColumnChange{
		Database: e.Database, Schema: e.Schema, Table: e.Table, Column: e.Column, RowKey: e.RowKey, Operation: e.Operation,
		OldValueCommitment: maybe("old_value", e.OldValue, &o), NewValueCommitment: maybe("new_value", e.NewValue, &o),
		ValueClass: e.ValueClass, CaptureMethod: e.CaptureMethod, DbAccount: e.DBAccount, ChangedAt: ts(e.ChangedAt), Txid: e.TxID, OldValueAuthoritative: e.OldValueAuthoritative,
	}
	return draft("data.column.changed", e.Common, success, o, func(ev *pb.Event) { ev.Body = &pb.Event_ColumnChange{ColumnChange: b} })
}

// Heartbeat is producer.heartbeat; Client.Record makes the producer its actor.
type Heartbeat struct {
	Common
	EventsSinceLast uint64
	LastEventID     string
	Interval        *time.Duration
}

func (e Heartbeat) Draft() Draft {
	b := &pb.Heartbeat{EventsSinceLast: e.EventsSinceLast, LastEventId: e.LastEventID, Interval: dur(e.Interval)}
	return draft("producer.heartbeat", e.Common, success, nil, func(ev *pb.Event) { ev.Body = &pb.Event_Heartbeat{Heartbeat: b} })
}

// Gap is audit.gap: the gateway admits that it lost or truncated events (a buffer overflow, a
// crash, a size cap) so that the log shows the hole instead of hiding it. FirstSeq..LastSeq are the
// session or producer sequence numbers the lost events had (LastSeq defaults to FirstSeq),
// LostCount how many, From and To the time they covered. The outcome is failure, and Client.Record
// makes the producer its actor, as the TypeScript SDK's producerEvents.gap does.
type Gap struct {
	Common
	Reason            string // required: "buffer_overflow", "size_cap", "crash", ...
	FirstSeq, LastSeq uint64
	LostCount         uint64
	From, To          time.Time
}

func (e Gap) Draft() Draft {
	last := e.LastSeq
	if last == 0 {
		last = e.FirstSeq
	}
	b := &pb.ProducerGap{Reason: e.Reason, FirstSeq: e.FirstSeq, LastSeq: last, LostCount: e.LostCount, From: ts(e.From), To: ts(e.To)}
	return draft("audit.gap", e.Common, failure, nil, func(ev *pb.Event) { ev.Body = &pb.Event_ProducerGap{ProducerGap: b} })
}
