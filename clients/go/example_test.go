package candor

import (
	"os/exec"
	"strings"
	"testing"
)

// The example gateway (examples/gateway) runs against a real log and prints verified receipts.
func TestExampleGateway(t *testing.T) {
	l := newLog(t)
	out, err := exec.Command("go", "run", "./examples/gateway", "-addr", l.grpc, "-token", l.token, "-producer", "gw", "-tenant", "org-1", "-logkey", l.vkey, "-skey", l.skey).CombinedOutput()
	if err != nil {
		t.Fatalf("go run ./examples/gateway: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "every receipt verified") || strings.Count(string(out), "index ") != 5 {
		t.Fatalf("unexpected output:\n%s", out)
	}
}
