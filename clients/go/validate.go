package candor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "candor.dev/go/gen/candorv1"
)

// Validation before sending: the rules the log applies to every event it accepts
// (src/schema/validate.ts), with the same messages, so a gateway learns of a mistake from Record or
// Submit instead of a failed batch. The parity test (validate_test.go) sends each bad event of its
// list to a real log as well and checks that the log refuses it with the same message.

// ErrInvalid is what every *InvalidEventError matches with errors.Is.
var ErrInvalid = errors.New("candor: invalid event")

// InvalidEventError is an event the log would refuse with INVALID_ARGUMENT. Field is the proto
// path of what is wrong ("event.actor.id", "event.review_vote_cast.decision"), and Message is the
// log's own message for it.
type InvalidEventError struct {
	Field   string
	Message string
}

func (e *InvalidEventError) Error() string        { return "candor: " + e.Message }
func (e *InvalidEventError) Is(target error) bool { return target == ErrInvalid }

func invalidf(field, format string, args ...interface{}) error {
	return &InvalidEventError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// The limits of src/schema/validate.ts, in UTF-16 code units as JavaScript counts a string.
const (
	maxIDLength     = 256  // fields named id or *_id, and the type
	maxStringLength = 4096 // any other string field
	commitmentSize  = 32
	// MaxEventSize is the largest encoded event the log accepts (src/schema/encoding.ts): a leaf
	// is at most 65,535 bytes (c2sp.org/tlog-tiles entry bundles), less what the log adds.
	MaxEventSize = 61_440
)

// google.protobuf.Timestamp's range (0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z) and
// google.protobuf.Duration's (about ±10,000 years).
const (
	minSeconds         = -62_135_596_800
	maxSeconds         = 253_402_300_799
	maxDurationSeconds = 315_576_000_000
)

type envelopePart int

const (
	needResource envelopePart = iota
	needSource
	needSessionID
	needObject
)

// eventType is a row of src/schema/types.ts EVENT_TYPES: the body a type carries (its proto field
// name) and the envelope parts it needs besides those every event has.
type eventType struct {
	body  protoreflect.Name
	needs []envelopePart
}

func et(body protoreflect.Name, needs ...envelopePart) eventType {
	return eventType{body: body, needs: needs}
}

// eventTypes is src/schema/types.ts's table; the corpus (testdata/corpus.json "eventTypes", from
// the TypeScript source) checks that the two are the same.
var eventTypes = map[string]eventType{
	"auth.login.succeeded":              et("auth_login", needSource),
	"auth.login.failed":                 et("auth_login", needSource),
	"auth.credential.created":           et("credential_change"),
	"auth.credential.rotated":           et("credential_change"),
	"auth.credential.revoked":           et("credential_change"),
	"identity.user.created":             et("user_change"),
	"identity.user.updated":             et("user_change"),
	"identity.user.deleted":             et("user_change"),
	"identity.group_membership.changed": et("group_membership_change"),
	"session.started":                   et("session_started", needResource, needSource, needSessionID),
	"session.denied":                    et("session_denied", needResource, needSource),
	"session.ended":                     et("session_ended", needResource, needSessionID),
	"query.executed":                    et("statement_executed", needResource, needSessionID),
	"query.denied":                      et("statement_denied", needResource, needSessionID),
	"query.failed":                      et("statement_failed", needResource, needSessionID),
	"review.requested":                  et("review_requested", needResource),
	"review.vote.cast":                  et("review_vote_cast"),
	"review.approved":                   et("review_approved"),
	"review.auto_approved":              et("review_auto_approved"),
	"review.force_approved":             et("review_force_approved"),
	"review.rejected":                   et("review_rejected"),
	"review.cancelled":                  et("review_cancelled"),
	"review.expired":                    et("review_expired"),
	"review.revoked":                    et("review_revoked"),
	"review.execution.started":          et("review_execution"),
	"review.execution.completed":        et("review_execution"),
	"review.execution.unknown":          et("review_execution"),
	"access.grant.activated":            et("access_grant", needResource),
	"access.grant.expired":              et("access_grant", needResource),
	"access.grant.revoked":              et("access_grant", needResource),
	"db.privilege.granted":              et("db_privilege_change", needResource, needObject),
	"db.privilege.revoked":              et("db_privilege_change", needResource, needObject),
	"db.role.granted":                   et("db_role_change", needResource),
	"db.role.revoked":                   et("db_role_change", needResource),
	"db.user.provisioned":               et("db_user_change", needResource),
	"db.user.deactivated":               et("db_user_change", needResource),
	"db.user.deleted":                   et("db_user_change", needResource),
	"data.column.changed":               et("column_change", needResource),
	"audit.log.queried":                 et("audit_log_queried"),
	"audit.log.exported":                et("audit_log_exported"),
	"audit.opening.disclosed":           et("opening_disclosed"),
	"audit.erasure.performed":           et("erasure_performed"),
	"audit.gap":                         et("producer_gap"),
	"producer.heartbeat":                et("heartbeat"),
	"audit.producer.started":            et("producer_lifecycle"),
	"audit.producer.stopped":            et("producer_lifecycle"),
	"audit.producer.paused":             et("producer_lifecycle"),
}

// Validate checks an event as the log will, once its envelope is filled (Record and Submit call it
// after filling IDs, time, tenant and producer). The error is an *InvalidEventError.
func Validate(ev *pb.Event) error {
	const path = "event"
	if err := walk(ev.ProtoReflect(), path); err != nil {
		return err
	}
	req := func(ok bool, field string, what ...string) error {
		if ok {
			return nil
		}
		w := "is required"
		if len(what) > 0 {
			w = what[0]
		}
		return invalidf(path+"."+field, "%s.%s %s", path, field, w)
	}
	if err := firstErr(req(ev.EventId != "", "event_id"), req(ev.ProducerEventId != "", "producer_event_id"), req(ev.Type != "", "type")); err != nil {
		return err
	}
	spec, known := eventTypes[ev.Type]
	if !known {
		return invalidf(path+".type", "%s.type %s is not a known event type (see src/schema/types.ts)", path, jsonString(ev.Type))
	}
	if err := firstErr(req(ev.OccurredAt != nil, "occurred_at"), req(ev.TenantId != "", "tenant_id"), req(ev.Actor != nil, "actor")); err != nil {
		return err
	}
	if err := firstErr(req(ev.Actor.Id != "", "actor.id"), req(ev.Actor.Type != pb.ActorType_ACTOR_TYPE_UNSPECIFIED, "actor.type"),
		req(ev.Outcome != pb.Outcome_OUTCOME_UNSPECIFIED, "outcome")); err != nil {
		return err
	}
	if ev.Resource != nil {
		if err := checkLabels(ev.Resource.Tags, path+".resource.tags"); err != nil {
			return err
		}
	}
	if err := checkLabels(ev.Labels, path+".labels"); err != nil {
		return err
	}
	for i, c := range ev.Commitments {
		if err := req(c.Field != "", fmt.Sprintf("commitments[%d].field", i)); err != nil {
			return err
		}
	}
	if ev.Corrects != nil {
		if err := req(ev.Corrects.EventId != "", "corrects.event_id"); err != nil {
			return err
		}
	}
	for _, part := range spec.needs {
		var err error
		switch part {
		case needResource:
			err = req(ev.Resource != nil && (ev.Resource.Name != "" || ev.Resource.Id != ""), "resource", "is required for "+ev.Type+" (name or id)")
		case needSource:
			err = req(ev.Source != nil, "source", "is required for "+ev.Type)
		case needSessionID:
			err = req(ev.SessionId != "", "session_id", "is required for "+ev.Type)
		case needObject:
			err = req(ev.Object != nil && ev.Object.Name != "", "object.name", "is required for "+ev.Type)
		}
		if err != nil {
			return err
		}
	}

	m := ev.ProtoReflect()
	set := m.WhichOneof(m.Descriptor().Oneofs().ByName("body"))
	if set == nil || set.Name() != spec.body {
		got := "no body"
		if set != nil {
			got = "body " + string(set.Name())
		}
		return invalidf(path+"."+string(spec.body), "%s.%s is required for type %s (got %s)", path, spec.body, ev.Type, got)
	}
	bp := string(spec.body)
	return bodyRule(ev, func(ok bool, field string, what ...string) error { return req(ok, bp+"."+field, what...) })
}

// bodyRule applies the required fields of each body (the "Required." comments in
// proto/candor/v1/event.proto, BODY_RULES in src/schema/validate.ts).
func bodyRule(ev *pb.Event, need func(ok bool, field string, what ...string) error) error {
	statement := func(s *pb.StatementRef) error {
		if err := need(s != nil, "statement"); err != nil {
			return err
		}
		return need(len(s.Commitment) > 0, "statement.commitment")
	}
	typ := ev.Type
	switch b := ev.Body.(type) {
	case *pb.Event_AuthLogin:
		return firstErr(need(b.AuthLogin.Method != "", "method"),
			need(typ != "auth.login.failed" || b.AuthLogin.FailureReason != "", "failure_reason", "is required for auth.login.failed"))
	case *pb.Event_CredentialChange:
		return need(b.CredentialChange.CredentialId != "", "credential_id")
	case *pb.Event_UserChange:
		return need(b.UserChange.UserId != "", "user_id")
	case *pb.Event_GroupMembershipChange:
		x := b.GroupMembershipChange
		return firstErr(need(x.UserId != "", "user_id"), need(len(x.GroupsAdded)+len(x.GroupsRemoved) > 0, "groups_added", "or groups_removed must name a group"))
	case *pb.Event_SessionStarted:
		return need(b.SessionStarted.Verb != pb.SessionVerb_SESSION_VERB_UNSPECIFIED, "verb")
	case *pb.Event_SessionDenied:
		return need(b.SessionDenied.Reason != "", "reason")
	case *pb.Event_SessionEnded:
		x := b.SessionEnded
		return need(x.EventCount == 0 || len(x.StreamDigest) > 0, "stream_digest", "is required when event_count is set")
	case *pb.Event_StatementExecuted:
		return statement(b.StatementExecuted.Statement)
	case *pb.Event_StatementDenied:
		return firstErr(statement(b.StatementDenied.Statement), need(b.StatementDenied.Rule != "", "rule"))
	case *pb.Event_StatementFailed:
		return statement(b.StatementFailed.Statement)
	case *pb.Event_ReviewRequested:
		x := b.ReviewRequested
		return firstErr(need(x.ReviewId != "", "review_id"), need(x.Kind != pb.ReviewKind_REVIEW_KIND_UNSPECIFIED, "kind"),
			need(x.Kind != pb.ReviewKind_REVIEW_KIND_ONE_TIME_COMMAND || (x.Statement != nil && len(x.Statement.Commitment) > 0), "statement.commitment", "is required for a one-time command"))
	case *pb.Event_ReviewVoteCast:
		x := b.ReviewVoteCast
		return firstErr(need(x.ReviewId != "", "review_id"), need(x.Decision != pb.VoteDecision_VOTE_DECISION_UNSPECIFIED, "decision"))
	case *pb.Event_ReviewApproved:
		return need(b.ReviewApproved.ReviewId != "", "review_id")
	case *pb.Event_ReviewAutoApproved:
		x := b.ReviewAutoApproved
		return firstErr(need(x.ReviewId != "", "review_id"), need(x.RuleName != "", "rule_name"))
	case *pb.Event_ReviewForceApproved:
		x := b.ReviewForceApproved
		return firstErr(need(x.ReviewId != "", "review_id"), need(x.ForceGroup != "", "force_group"),
			need(len(x.ReasonCommitment) > 0, "reason_commitment", "is required: break-glass needs a reason"))
	case *pb.Event_ReviewRejected:
		return need(b.ReviewRejected.ReviewId != "", "review_id")
	case *pb.Event_ReviewCancelled:
		return need(b.ReviewCancelled.ReviewId != "", "review_id")
	case *pb.Event_ReviewExpired:
		x := b.ReviewExpired
		return firstErr(need(x.ReviewId != "", "review_id"),
			need(x.PreviousState == pb.ReviewState_REVIEW_STATE_PENDING || x.PreviousState == pb.ReviewState_REVIEW_STATE_APPROVED, "previous_state", "must be PENDING or APPROVED"))
	case *pb.Event_ReviewRevoked:
		return need(b.ReviewRevoked.ReviewId != "", "review_id")
	case *pb.Event_ReviewExecution:
		x := b.ReviewExecution
		return firstErr(need(x.ReviewId != "", "review_id"), need(typ != "review.execution.unknown" || x.Reason != "", "reason", "is required for review.execution.unknown"))
	case *pb.Event_AccessGrant:
		x := b.AccessGrant
		return firstErr(need(x.GrantId != "", "grant_id"), need(typ != "access.grant.activated" || x.ValidUntil != nil, "valid_until", "is required for access.grant.activated"))
	case *pb.Event_DbPrivilegeChange:
		x := b.DbPrivilegeChange
		return firstErr(need(x.Grantee != "", "grantee"), need(len(x.Privileges) > 0, "privileges", "must name at least one privilege"))
	case *pb.Event_DbRoleChange:
		return firstErr(need(b.DbRoleChange.Role != "", "role"), need(b.DbRoleChange.Member != "", "member"))
	case *pb.Event_DbUserChange:
		return need(b.DbUserChange.Username != "", "username")
	case *pb.Event_ColumnChange:
		x := b.ColumnChange
		op := x.Operation
		return firstErr(need(x.Database != "", "database"), need(x.Table != "", "table"), need(x.Column != "", "column"), need(x.RowKey != "", "row_key"),
			need(op != pb.ColumnOperation_COLUMN_OPERATION_UNSPECIFIED, "operation"),
			need(x.ValueClass != pb.ValueClass_VALUE_CLASS_UNSPECIFIED, "value_class"),
			need(x.CaptureMethod != pb.CaptureMethod_CAPTURE_METHOD_UNSPECIFIED, "capture_method"),
			need(x.DbAccount != "", "db_account"),
			need(!(op == pb.ColumnOperation_COLUMN_OPERATION_UPDATE || op == pb.ColumnOperation_COLUMN_OPERATION_DELETE) || len(x.OldValueCommitment) > 0, "old_value_commitment", "is required for "+columnOp(op)),
			need(!(op == pb.ColumnOperation_COLUMN_OPERATION_UPDATE || op == pb.ColumnOperation_COLUMN_OPERATION_INSERT) || len(x.NewValueCommitment) > 0, "new_value_commitment", "is required for "+columnOp(op)))
	case *pb.Event_AuditLogExported:
		return need(b.AuditLogExported.Format != "", "format")
	case *pb.Event_OpeningDisclosed:
		x := b.OpeningDisclosed
		return firstErr(need(x.DisclosedEventId != "", "disclosed_event_id"), need(len(x.Fields) > 0, "fields", "must name at least one field"), need(x.Recipient != "", "recipient"))
	case *pb.Event_ErasurePerformed:
		x := b.ErasurePerformed
		return firstErr(need(x.RequestId != "", "request_id"), need(x.LegalBasis != "", "legal_basis"))
	case *pb.Event_ProducerGap:
		x := b.ProducerGap
		return firstErr(need(x.Reason != "", "reason"), need(x.LastSeq >= x.FirstSeq, "last_seq", "must not be below first_seq"))
	}
	return nil // audit.log.queried, producer.heartbeat and the producer lifecycle require nothing
}

// firstErr is the first of the errors that is not nil: the rules checked in the log's order.
func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// columnOp is the operation's name as the log's messages give it (UPDATE, INSERT, DELETE).
func columnOp(op pb.ColumnOperation) string {
	return strings.TrimPrefix(op.String(), "COLUMN_OPERATION_")
}

// walk applies the rules every field of a kind obeys, recursively and in field order: no unknown
// fields, known enum values, commitments of 32 bytes (or empty where singular), bounded strings
// with no control characters in identifiers, timestamps and durations in range.
func walk(m protoreflect.Message, path string) error {
	if u := m.GetUnknown(); len(u) > 0 {
		num, _, _ := protowire.ConsumeTag(u)
		return invalidf(path, "%s has unknown field %d: the log's schema does not know it (is the producer's candor.v1 newer?)", path, num)
	}
	switch m.Descriptor().FullName() {
	case "google.protobuf.Timestamp":
		return checkTimestamp(m, path)
	case "google.protobuf.Duration":
		return checkDuration(m, path)
	}
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue // unset: an empty list, a zero scalar or no message, each valid
		}
		v := m.Get(fd)
		if fd.IsList() {
			l := v.List()
			for j := 0; j < l.Len(); j++ {
				if err := checkValue(fd, l.Get(j), path, j); err != nil {
					return err
				}
			}
		} else if err := checkValue(fd, v, path, -1); err != nil {
			return err
		}
	}
	return nil
}

// fieldPath is the path of a field of the message at path; i >= 0 is a position in a list.
func fieldPath(path string, fd protoreflect.FieldDescriptor, i int) string {
	if i < 0 {
		return path + "." + string(fd.Name())
	}
	return fmt.Sprintf("%s.%s[%d]", path, fd.Name(), i)
}

// invalidField is an error about field fd of the message at path (i as in fieldPath); the message
// starts with the field's path.
func invalidField(path string, fd protoreflect.FieldDescriptor, i int, format string, args ...interface{}) error {
	p := fieldPath(path, fd, i)
	return invalidf(p, "%s "+format, append([]interface{}{p}, args...)...)
}

// checkValue checks one value of field fd of the message at path (i as in fieldPath). The field's
// own path is built only for an error or a nested message: this runs for every field of every event.
func checkValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string, i int) error {
	name := string(fd.Name())
	switch fd.Kind() {
	case protoreflect.StringKind:
		s := v.String()
		n := utf16Len(s)
		if name == "id" || strings.HasSuffix(name, "_id") || name == "type" {
			if n > maxIDLength {
				return invalidField(path, fd, i, "is %d characters; the limit is %d", n, maxIDLength)
			}
			if strings.IndexFunc(s, isControl) >= 0 {
				return invalidField(path, fd, i, "contains a control character")
			}
		} else if n > maxStringLength {
			return invalidField(path, fd, i, "is %d characters; the limit is %d", n, maxStringLength)
		}
	case protoreflect.BytesKind:
		if name == "commitment" || name == "digest" || name == "commitments" || strings.HasSuffix(name, "_commitment") || strings.HasSuffix(name, "_digest") {
			// Empty means "not recorded" for a singular commitment; a listed one must be real.
			if n := len(v.Bytes()); n != commitmentSize && (n != 0 || fd.IsList()) {
				orEmpty := " or empty"
				if fd.IsList() {
					orEmpty = ""
				}
				return invalidField(path, fd, i, "must be a %d-byte SHA-256 digest%s, got %d bytes", commitmentSize, orEmpty, n)
			}
		}
	case protoreflect.EnumKind:
		if fd.Enum().Values().ByNumber(v.Enum()) == nil {
			return invalidField(path, fd, i, "has unknown enum value %d", v.Enum())
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return walk(v.Message(), fieldPath(path, fd, i))
	}
	return nil
}

// isControl: C0, DEL and C1, never valid inside an identifier.
func isControl(r rune) bool { return r <= 0x1f || (r >= 0x7f && r <= 0x9f) }

func checkTimestamp(m protoreflect.Message, path string) error {
	s, n := seconds(m)
	if s < minSeconds || s > maxSeconds {
		return invalidf(path, "%s is outside 0001-01-01..9999-12-31", path)
	}
	if n < 0 || n > 999_999_999 {
		return invalidf(path+".nanos", "%s.nanos must be in 0..999999999", path)
	}
	return nil
}

func checkDuration(m protoreflect.Message, path string) error {
	s, n := seconds(m)
	if s < -maxDurationSeconds || s > maxDurationSeconds {
		return invalidf(path, "%s is out of range", path)
	}
	if n < -999_999_999 || n > 999_999_999 || (s > 0 && n < 0) || (s < 0 && n > 0) {
		return invalidf(path+".nanos", "%s.nanos must be in range and have the sign of seconds", path)
	}
	return nil
}

func seconds(m protoreflect.Message) (int64, int64) {
	f := m.Descriptor().Fields()
	return m.Get(f.ByName("seconds")).Int(), m.Get(f.ByName("nanos")).Int()
}

// checkLabels: keys present, sorted by UTF-16 code units and unique, so that a set of labels has
// one encoding.
func checkLabels(labels []*pb.Label, path string) error {
	for i, l := range labels {
		if l.Key == "" {
			return invalidf(fmt.Sprintf("%s[%d].key", path, i), "%s[%d].key is required", path, i)
		}
		if i > 0 && !utf16Less(labels[i-1].Key, l.Key) {
			return invalidf(fmt.Sprintf("%s[%d].key", path, i), "%s must be sorted by key with no duplicates (at %s[%d].key %s)", path, path, i, jsonString(l.Key))
		}
	}
	return nil
}

// utf16Len is a string's length as JavaScript counts it: UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r > 0xFFFF {
			n += 2 // a surrogate pair
		} else {
			n++
		}
	}
	return n
}

// utf16Less compares as JavaScript's < does, by UTF-16 code units. UTF-8 byte order differs for
// code points above U+FFFF, which sort below U+E000..U+FFFF in UTF-16.
func utf16Less(a, b string) bool {
	x, y := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(x) && i < len(y); i++ {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return len(x) < len(y)
}

// jsonString is JSON.stringify(s) for the messages the log writes with it.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	out := strings.TrimSuffix(b.String(), "\n")
	// encoding/json escapes U+2028 and U+2029 for JavaScript's sake; JSON.stringify does not.
	return strings.NewReplacer(`\u2028`, "\u2028", `\u2029`, "\u2029").Replace(out)
}
