// Command gateway plays a Go access gateway through a reviewed query: the request, a vote, the
// approval and the execution, then a sensitive-column change, and prints each verified receipt.
//
//	go run ./examples/gateway -addr 127.0.0.1:8081 -token candor_pt_... -producer gw \
//	    -tenant org-1 -logkey "$(head -1 data/log.vkey)" [-skey PRIVATE+KEY+gw+...]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	candor "candor.dev/go"
	pb "candor.dev/go/gen/candorv1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "the log's gRPC address (repeat with commas for several)")
	token := flag.String("token", "", "the producer's bearer token")
	producer := flag.String("producer", "gw", "the producer ID")
	tenant := flag.String("tenant", "org-1", "the tenant")
	logKey := flag.String("logkey", "", "the log's verifier key (first line of its log.vkey)")
	skey := flag.String("skey", "", "the producer's signer key, if it has one registered")
	flag.Parse()

	gw, err := candor.New(candor.Options{Addresses: []string{*addr}, Token: *token, Producer: *producer, Tenant: *tenant, LogKeys: []string{*logKey}, SignerKey: *skey})
	if err != nil {
		log.Fatal(err)
	}
	defer gw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	alice := candor.Actor{ID: "usr_alice", Display: "alice@example.com"}
	bob := candor.Actor{ID: "usr_bob"}
	db := &candor.Resource{Name: "pg-prod", Type: "database", Tags: map[string]string{"env": "prod"}}
	steps := []candor.Event{
		candor.ReviewRequested{Common: candor.Common{Actor: alice, Resource: db}, ReviewID: "rev_1", Kind: pb.ReviewKind_REVIEW_KIND_ONE_TIME_COMMAND,
			Statement: "UPDATE accounts SET plan = 'pro' WHERE id = 42", Justification: "ticket OPS-7"},
		candor.ReviewVoteCast{Common: candor.Common{Actor: bob, Resource: db}, ReviewID: "rev_1", Group: "dba", Decision: pb.VoteDecision_VOTE_DECISION_APPROVE},
		candor.ReviewApproved{Common: candor.Common{Actor: bob, Resource: db}, ReviewID: "rev_1"},
		candor.ReviewExecution{Common: candor.Common{Actor: alice, Resource: db, SessionID: "s-1"}, Stage: "completed", ReviewID: "rev_1", Rows: 1},
		candor.ColumnChanged{Common: candor.Common{Actor: alice, Resource: db}, Database: "app", Table: "accounts", Column: "plan", RowKey: "id=42",
			Operation: pb.ColumnOperation_COLUMN_OPERATION_UPDATE, OldValue: "free", NewValue: "pro", ValueClass: pb.ValueClass_VALUE_CLASS_OTHER,
			CaptureMethod: pb.CaptureMethod_CAPTURE_METHOD_GATEWAY_OBSERVED, DBAccount: "app_rw"},
	}
	for _, e := range steps {
		r, err := gw.Record(ctx, e)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-28T index %-6d tree %-6d %d openings kept\n", e, r.Receipt.Index, r.Receipt.TreeSize, len(r.Openings))
	}
	cp := gw.LatestCheckpoint()
	fmt.Printf("every receipt verified; latest checkpoint: %s at size %d\n", cp.Origin, cp.Size)
}
