package candor

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// The shared corpus (testdata/corpus.json, written by testdata/corpus.ts from the TypeScript SDK):
// the same inputs and salts must give byte-identical events, leaves and leaf hashes here.

type corpus struct {
	Producer          string    `json:"producer"`
	ProducerSignerKey string    `json:"producerSignerKey"`
	LogVerifierKey    string    `json:"logVerifierKey"`
	OccurredAt        time.Time `json:"occurredAt"`
	ReceivedAtNs      string    `json:"receivedAtNs"`
	ReceivedAtStepNs  uint64    `json:"receivedAtStepNs"`
	AuthMethod        uint8     `json:"authMethod"`
	EventTypes        map[string]struct {
		Body  string   `json:"body"`
		Needs []string `json:"needs"`
	} `json:"eventTypes"`
	Whitespace   []string `json:"whitespace"`
	Fingerprints []struct {
		Statement, Normalized, Fingerprint string
	} `json:"fingerprints"`
	Cases []struct {
		Kind     string                     `json:"kind"`
		Input    map[string]json.RawMessage `json:"input"`
		Salts    []string                   `json:"salts"`
		Openings []struct{ Field, Value string }
		Event    string `json:"event"`
		Leaf     string `json:"leaf"`
		LeafHash string `json:"leafHash"`
	} `json:"cases"`
}

// corpusEvent maps a TypeScript SDK method to the Go event type that takes the same input.
func corpusEvent(t *testing.T, kind string) (Event, func(Event) Event) {
	id := func(e Event) Event { return e }
	switch kind {
	case "session.started":
		return &SessionStarted{}, id
	case "session.denied":
		return &SessionDenied{}, id
	case "session.ended":
		return &SessionEnded{}, id
	case "statement.executed":
		return &StatementExecuted{}, id
	case "statement.denied":
		return &StatementDenied{}, id
	case "statement.failed":
		return &StatementFailed{}, id
	case "review.requested":
		return &ReviewRequested{}, id
	case "review.voteCast":
		return &ReviewVoteCast{}, id
	case "review.approved":
		return &ReviewApproved{}, id
	case "review.autoApproved":
		return &ReviewAutoApproved{}, id
	case "review.forceApproved":
		return &ReviewForceApproved{}, id
	case "review.rejected":
		return &ReviewRejected{}, id
	case "review.cancelled":
		return &ReviewCancelled{}, id
	case "review.expired":
		return &ReviewExpired{}, id
	case "review.revoked":
		return &ReviewRevoked{}, id
	case "review.executionStarted", "review.executionCompleted", "review.executionUnknown":
		stage := strings.ToLower(strings.TrimPrefix(kind, "review.execution"))
		return &ReviewExecution{}, func(e Event) Event { x := e.(ReviewExecution); x.Stage = stage; return x }
	case "grant.activated", "grant.expired", "grant.revoked":
		change := strings.TrimPrefix(kind, "grant.")
		return &GrantChange{}, func(e Event) Event { x := e.(GrantChange); x.Change = change; return x }
	case "db.privilegeGranted", "db.privilegeRevoked":
		change := strings.ToLower(strings.TrimPrefix(kind, "db.privilege"))
		return &PrivilegeChange{}, func(e Event) Event { x := e.(PrivilegeChange); x.Change = change; return x }
	case "db.roleGranted", "db.roleRevoked":
		change := strings.ToLower(strings.TrimPrefix(kind, "db.role"))
		return &RoleChange{}, func(e Event) Event { x := e.(RoleChange); x.Change = change; return x }
	case "column.changed":
		return &ColumnChanged{}, id
	case "producerEvents.heartbeat":
		return &Heartbeat{}, id
	case "producerEvents.gap":
		return &Gap{}, id
	}
	t.Fatalf("corpus kind %q has no Go event", kind)
	return nil, nil
}

// deref turns the *T the JSON was decoded into back into the T that Client.Record takes.
func deref(e Event) Event {
	switch x := e.(type) {
	case *SessionStarted:
		return *x
	case *SessionDenied:
		return *x
	case *SessionEnded:
		return *x
	case *StatementExecuted:
		return *x
	case *StatementDenied:
		return *x
	case *StatementFailed:
		return *x
	case *ReviewRequested:
		return *x
	case *ReviewVoteCast:
		return *x
	case *ReviewApproved:
		return *x
	case *ReviewAutoApproved:
		return *x
	case *ReviewForceApproved:
		return *x
	case *ReviewRejected:
		return *x
	case *ReviewCancelled:
		return *x
	case *ReviewExpired:
		return *x
	case *ReviewRevoked:
		return *x
	case *ReviewExecution:
		return *x
	case *GrantChange:
		return *x
	case *PrivilegeChange:
		return *x
	case *RoleChange:
		return *x
	case *ColumnChanged:
		return *x
	case *Heartbeat:
		return *x
	case *Gap:
		return *x
	}
	return e
}

func readCorpus(t *testing.T) corpus {
	raw, err := os.ReadFile("testdata/corpus.json")
	if err != nil {
		t.Fatal(err)
	}
	var cp corpus
	if err := json.Unmarshal(raw, &cp); err != nil {
		t.Fatal(err)
	}
	return cp
}

// The statements of the corpus normalise to the same bytes, and fingerprint to the same hex, as in
// the TypeScript SDK: every kind of JavaScript whitespace, U+0085 (not whitespace there), and
// letters whose lower case JavaScript and Go's tables disagree on.
func TestFingerprintsMatchTheTypeScriptSDK(t *testing.T) {
	cp := readCorpus(t)
	if len(cp.Fingerprints) < 8 {
		t.Fatalf("the corpus has %d statements", len(cp.Fingerprints))
	}
	for _, f := range cp.Fingerprints {
		if got := NormalizeStatement(f.Statement); got != f.Normalized {
			t.Errorf("NormalizeStatement(%+q)\n go %+q\n ts %+q", f.Statement, got, f.Normalized)
		}
		if got := StatementFingerprint(f.Statement); got != f.Fingerprint {
			t.Errorf("StatementFingerprint(%+q) = %s, the SDK's %s", f.Statement, got, f.Fingerprint)
		}
	}
}

// The whitespace the normalisation collapses is exactly JavaScript's \s, code point by code point.
func TestWhitespaceIsJavaScripts(t *testing.T) {
	cp := readCorpus(t)
	js := map[rune]bool{}
	for _, h := range cp.Whitespace {
		c, err := strconv.ParseUint(h, 16, 32)
		if err != nil {
			t.Fatal(err)
		}
		js[rune(c)] = true
	}
	if len(js) < 25 {
		t.Fatalf("the corpus lists %d whitespace code points", len(js))
	}
	for r := rune(0); r < 0x10000; r++ {
		if r >= 0xD800 && r < 0xE000 {
			continue // surrogates are not code points of a Go string
		}
		if got := spaces.MatchString(string(r)); got != js[r] {
			t.Errorf("U+%04X: whitespace here %v, in JavaScript %v", r, got, js[r])
		}
	}
}

// Validate's table of event types is the log's (src/schema/types.ts, copied into the corpus).
func TestEventTypesAreTheLogs(t *testing.T) {
	cp := readCorpus(t)
	parts := map[envelopePart]string{needResource: "resource", needSource: "source", needSessionID: "session_id", needObject: "object"}
	if len(cp.EventTypes) < 40 || len(cp.EventTypes) != len(eventTypes) {
		t.Errorf("%d event types here, %d in the log", len(eventTypes), len(cp.EventTypes))
	}
	for typ, want := range cp.EventTypes {
		got, ok := eventTypes[typ]
		var needs []string
		for _, p := range got.needs {
			needs = append(needs, parts[p])
		}
		if !ok || string(got.body) != want.Body || strings.Join(needs, ",") != strings.Join(want.Needs, ",") {
			t.Errorf("%s: here %s needing %v, in the log %s needing %v", typ, got.body, needs, want.Body, want.Needs)
		}
	}
}

func unhex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCorpusMatchesTheTypeScriptSDK(t *testing.T) {
	cp := readCorpus(t)
	if len(cp.Cases) < 20 {
		t.Fatalf("the corpus has %d cases", len(cp.Cases))
	}
	// No connection is made: the client only builds and encodes here.
	c, err := New(Options{Addresses: []string{"127.0.0.1:1"}, Producer: cp.Producer, Tenant: "org-1", LogKeys: []string{cp.LogVerifierKey}, SignerKey: cp.ProducerSignerKey})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer func(s io.Reader) { saltSource = s }(saltSource)

	events := make([][]byte, len(cp.Cases))
	for i, k := range cp.Cases {
		// The SDK takes milliseconds where Go takes a time.Duration.
		at, _ := json.Marshal(cp.OccurredAt) // every corpus event has the same occurred_at
		in := map[string]json.RawMessage{"occurredAt": at}
		for key, v := range k.Input {
			if strings.HasSuffix(key, "Ms") {
				ms, _ := strconv.ParseInt(string(v), 10, 64)
				v = json.RawMessage(strconv.FormatInt(ms*int64(time.Millisecond), 10))
				key = strings.TrimSuffix(key, "Ms")
			}
			if protoTyped[key] {
				v = snakeKeys(t, v)
			}
			in[key] = v
		}
		b, _ := json.Marshal(in)
		ptr, finish := corpusEvent(t, k.Kind)
		if err := json.Unmarshal(b, ptr); err != nil {
			t.Fatalf("%s: %v", k.Kind, err)
		}
		e := finish(deref(ptr))
		var salts []byte
		for _, s := range k.Salts {
			salts = append(salts, unhex(t, s)...)
		}
		saltSource = bytes.NewReader(salts)
		got, openings, err := c.encode(e)
		if err != nil {
			t.Fatalf("%s: %v", k.Kind, err)
		}
		if want := unhex(t, k.Event); !bytes.Equal(got, want) {
			t.Errorf("%s (%s): event bytes differ\n go %x\n ts %x", k.Kind, k.Input["eventId"], got, want)
		}
		if len(openings) != len(k.Openings) {
			t.Errorf("%s: %d openings, the SDK made %d", k.Kind, len(openings), len(k.Openings))
		}
		for j := range k.Openings {
			if j < len(openings) && (openings[j].Field != k.Openings[j].Field || string(openings[j].Value) != k.Openings[j].Value) {
				t.Errorf("%s: opening %d is %s=%q, the SDK's %s=%q", k.Kind, j, openings[j].Field, openings[j].Value, k.Openings[j].Field, k.Openings[j].Value)
			}
		}
		events[i] = unhex(t, k.Event)
	}

	// The leaves of the whole corpus as one signed batch.
	signer, err := note.NewSigner(cp.ProducerSignerKey)
	if err != nil {
		t.Fatal(err)
	}
	tree := newBatchTree(events)
	sig, err := signer.Sign([]byte(BatchStatement(len(events), tree.root())))
	if err != nil {
		t.Fatal(err)
	}
	base, _ := strconv.ParseUint(cp.ReceivedAtNs, 10, 64)
	for i, k := range cp.Cases {
		leaf, err := Leaf{ReceivedAtNs: base + uint64(i)*cp.ReceivedAtStepNs, AuthMethod: cp.AuthMethod, Producer: cp.Producer, Event: events[i],
			Signature: &LeafSignature{KeyID: signer.KeyHash(), Signature: sig, BatchSize: uint32(len(events)), BatchIndex: uint32(i), Path: tree.path(i)}}.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(leaf, unhex(t, k.Leaf)) {
			t.Errorf("%s: leaf differs\n go %x\n ts %s", k.Kind, leaf, k.Leaf)
		}
		if h := LeafHash(leaf); hex.EncodeToString(h[:]) != k.LeafHash {
			t.Errorf("%s: leaf hash %x, the SDK's %s", k.Kind, h, k.LeafHash)
		}
		if l, err := ParseLeaf(leaf); err != nil || !bytes.Equal(l.Event, events[i]) {
			t.Errorf("%s: ParseLeaf: %v", k.Kind, err)
		}
	}
}

// protoTyped are the inputs whose Go type is a generated message: its JSON names are snake_case.
var protoTyped = map[string]bool{"source": true, "object": true, "policy": true, "correlation": true, "error": true}

func snakeKeys(t *testing.T, v json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		t.Fatal(err)
	}
	out := map[string]json.RawMessage{}
	for k, x := range m {
		var b strings.Builder
		for _, r := range k {
			if r >= 'A' && r <= 'Z' {
				b.WriteByte('_')
				r += 'a' - 'A'
			}
			b.WriteRune(r)
		}
		out[b.String()] = x
	}
	b, _ := json.Marshal(out)
	return b
}
