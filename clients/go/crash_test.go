package candor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	pb "candor.dev/go/gen/candorv1"
)

// entries reads every leaf of the log over gRPC (GetEntries).
func (l *testLog) entries(t *testing.T) [][]byte {
	t.Helper()
	conn, err := grpc.Dial(l.grpc, grpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := metadata.AppendToOutgoingContext(ctx(t), "authorization", "Bearer "+l.token)
	stub := pb.NewLogServiceClient(conn)
	cp, err := stub.GetCheckpoint(c, &pb.GetCheckpointRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for uint64(len(out)) < cp.TreeSize {
		end := cp.TreeSize
		s, err := stub.GetEntries(c, &pb.GetEntriesRequest{Start: uint64(len(out)), End: &end})
		if err != nil {
			t.Fatal(err)
		}
		for {
			r, err := s.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range r.Entries {
				out = append(out, e.Data)
			}
		}
	}
	return out
}

// A SIGKILL of the log while batches are in flight loses and doubles nothing: every event gets a
// verified receipt once the log is back, and the log holds each event exactly once. Batches the
// log committed but could not answer are resent byte for byte and answered as duplicates.
func TestSigkillDuringBatchesLosesAndDoublesNothing(t *testing.T) {
	const n = 3000
	l := newLog(t)
	gw := l.client(t, Options{MaxEvents: 64, MaxInFlight: 4, RetryInitial: 20 * time.Millisecond, RetryMax: 300 * time.Millisecond})
	c, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	pending := make([]*Pending, n)
	killed, first := make(chan struct{}), make(chan *Pending, 1)
	go func() {
		defer close(killed)
		<-(<-first).done // receipts are coming back: batches are being committed
		l.kill()         // mid-stream: batches queued, in flight, and committed but not yet answered
		time.Sleep(300 * time.Millisecond)
		l.start()
	}()
	for i := range pending {
		e := stmt(fmt.Sprint(i))
		e.ProducerEventID = fmt.Sprintf("kill-%d", i)
		p, err := gw.Submit(c, e)
		if err != nil {
			t.Fatal(err)
		}
		pending[i] = p
		if i == n/10 {
			first <- p
		}
	}
	<-killed
	index := map[int64]int{}
	duplicates := 0
	for i, p := range pending {
		r, err := p.Wait(c)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if _, err := VerifyReceipt(r.Receipt, []string{l.vkey}); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if j, seen := index[r.Receipt.Index]; seen {
			t.Fatalf("events %d and %d got the same index %d", j, i, r.Receipt.Index)
		}
		index[r.Receipt.Index] = i
		if r.Receipt.Duplicate {
			duplicates++
		}
	}
	leaves := l.entries(t)
	if len(leaves) != n {
		t.Fatalf("the log holds %d leaves for %d events", len(leaves), n)
	}
	for k, leaf := range leaves {
		lf, err := ParseLeaf(leaf)
		if err != nil {
			t.Fatal(err)
		}
		i, ok := index[int64(k)]
		if !ok || !bytes.Equal(lf.Event, pending[i].rec.EventBytes) {
			t.Fatalf("leaf %d is no receipt's event", k)
		}
	}
	t.Logf("%d events, one SIGKILL; %d answered as duplicates after the restart", n, duplicates)
}
