// Command bench records session.started events through the Go client, closed loop, from one client
// per producer, and prints one JSON line: events per second, per-event latency, and the CPU this
// process spent per event. bench/go-client.ts runs it beside the TypeScript SDK.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	candor "candor.dev/go"
	pb "candor.dev/go/gen/candorv1"
)

func cpu() time.Duration {
	var u syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

func main() {
	addr := flag.String("addr", "", "the log's gRPC address")
	producers := flag.String("producers", "", "id=token,id=token,...")
	logKey := flag.String("logkey", "", "the log's verifier key")
	batch := flag.Int("batch", 256, "events per request")
	inflight := flag.Int("inflight", 2, "requests in flight per producer")
	duration := flag.Duration("duration", 3*time.Second, "how long to record")
	flag.Parse()

	var clients []*candor.Client
	for _, p := range strings.Split(*producers, ",") {
		id, token, _ := strings.Cut(p, "=")
		c, err := candor.New(candor.Options{Addresses: []string{*addr}, Token: token, Producer: id, Tenant: "org-1", LogKeys: []string{*logKey}, MaxEvents: *batch, MaxInFlight: *inflight})
		if err != nil {
			log.Fatal(err)
		}
		clients = append(clients, c)
	}
	ev := candor.SessionStarted{Common: candor.Common{Actor: candor.Actor{ID: "usr_5c1e9a"}, Resource: &candor.Resource{Name: "conn-prod-pg", Type: "database"}, Source: &pb.Source{Ip: "203.0.113.7"}}, Verb: pb.SessionVerb_SESSION_VERB_CONNECT}
	var done, failed, seq atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	ctx := context.Background()
	cpu0, t0 := cpu(), time.Now()
	var wg sync.WaitGroup
	// Enough callers per producer to fill every batch in flight and the next one (as bench/grpc.ts).
	callers := 2 * *batch * *inflight
	for _, c := range clients {
		for i := 0; i < callers; i++ {
			wg.Add(1)
			go func(c *candor.Client) {
				defer wg.Done()
				var mine []time.Duration
				for time.Since(t0) < *duration {
					e := ev
					e.SessionID = fmt.Sprintf("s-%d", seq.Add(1))
					s := time.Now()
					if _, err := c.Record(ctx, e); err != nil {
						if failed.Add(1) == 1 {
							log.Print(err)
						}
						continue
					}
					done.Add(1)
					mine = append(mine, time.Since(s))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}(c)
		}
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	used := cpu() - cpu0
	for _, c := range clients {
		_ = c.Close()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(p*float64(len(lat)-1))]) / 1e6
	}
	n := done.Load()
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"eventsPerSec": float64(n) / secs, "p50": q(0.5), "p99": q(0.99), "failed": failed.Load(), "cpuUsPerEvent": float64(used.Microseconds()) / float64(max(n, 1))})
}

func max(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}
