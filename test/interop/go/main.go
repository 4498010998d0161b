// Command candor-interop checks a running Candor log with golang.org/x/mod's sumdb/note and
// sumdb/tlog, an implementation written independently of Candor. Every hash it trusts is
// authenticated by x/mod itself: the checkpoint by note.Open, tiles by tlog.TileHashReader
// against the checkpoint root, proofs by tlog.CheckRecord / tlog.CheckTree.
//
// Usage:
//
//	candor-interop -url http://127.0.0.1:PORT -vkey '<name>+<id>+<base64>' \
//	    [-witness-vkey '<name>+<id>+<base64(0x04||key)>' ...] [-samples N] [-seed S] \
//	    [-checkpoint FILE] [-old-checkpoint FILE]
//
// By default the trusted checkpoint is GET /checkpoint; -checkpoint verifies an earlier one a client
// kept instead (its partial tiles and proofs must still be served), and -old-checkpoint also checks
// that an earlier checkpoint is a prefix of the trusted one.
//
// It prints one summary line and exits 0 when everything verifies; otherwise it prints one
// "FAIL <check>: <detail>" line per failed check and exits 1. Usage errors exit 2.
//
// x/mod here is Debian's 0.7.0, which predates C2SP tlog-tiles: its tile paths carry the height
// (tile/8/<L>/<N>) and name data tiles tile/8/data/<N>, so paths are rewritten to C2SP form
// (tile/<L>/<N>, tile/entries/<N>) before they go on the wire.
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const tileHeight = 8
const tileWidth = 1 << tileHeight

// cosignatureV1 is the signed-note signature type of c2sp.org/tlog-cosignature (Ed25519).
const cosignatureV1 = 0x04

// ---------------------------------------------------------------------------------------------
// cosignature/v1 verifier. x/mod 0.7.0 only knows type 0x01 keys, so witnesses need a custom
// note.Verifier; note.Open still does the line parsing, key matching and reject-on-bad-signature.

type cosigVerifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
	// times records the timestamp of each signature that verified, for the summary line.
	times []uint64
}

func newCosigVerifier(vkey string) (*cosigVerifier, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, errors.New("want <name>+<hex id>+<base64 key>")
	}
	name, hash16, key64 := parts[0], parts[1], parts[2]
	// The same rule as x/mod's isValidName, so a key x/mod would refuse is refused here too.
	if name == "" || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsSpace) >= 0 || strings.Contains(name, "+") {
		return nil, errors.New("invalid key name")
	}
	if len(hash16) != 8 || strings.ToLower(hash16) != hash16 {
		return nil, errors.New("key ID must be 8 lowercase hex digits")
	}
	id, err := strconv.ParseUint(hash16, 16, 32)
	if err != nil {
		return nil, errors.New("key ID is not hex")
	}
	key, err := base64.StdEncoding.Strict().DecodeString(key64)
	if err != nil {
		return nil, errors.New("key is not base64")
	}
	if len(key) != 1+ed25519.PublicKeySize || key[0] != cosignatureV1 {
		return nil, fmt.Errorf("not a cosignature/v1 key (type 0x%02x, %d bytes)", key[0], len(key))
	}
	if uint32(id) != keyID(name, key) {
		return nil, fmt.Errorf("key ID %s does not match the key (want %08x)", hash16, keyID(name, key))
	}
	return &cosigVerifier{name: name, hash: uint32(id), pub: ed25519.PublicKey(key[1:])}, nil
}

// keyID is SHA-256(name || 0x0A || type || key)[:4], as in c2sp.org/signed-note.
func keyID(name string, typedKey []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n'})
	h.Write(typedKey)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

func (v *cosigVerifier) Name() string    { return v.name }
func (v *cosigVerifier) KeyHash() uint32 { return v.hash }

func (v *cosigVerifier) Verify(msg, sig []byte) bool {
	// timestamped_signature: u64 POSIX seconds || 64-byte Ed25519 signature.
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig[:8])
	if ts > math.MaxInt64 {
		return false
	}
	signed := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", ts)), msg...)
	if !ed25519.Verify(v.pub, signed, sig[8:]) {
		return false
	}
	v.times = append(v.times, ts)
	return true
}

// ---------------------------------------------------------------------------------------------
// Checkpoint body (c2sp.org/tlog-checkpoint). tlog.ParseTree only accepts the go.sum header line,
// so the three lines are parsed here, strictly.

type checkpoint struct {
	origin     string
	size       int64
	root       tlog.Hash
	extensions []string
}

func parseCheckpoint(text string) (checkpoint, error) {
	var c checkpoint
	if !strings.HasSuffix(text, "\n") {
		return c, errors.New("no final newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return c, fmt.Errorf("%d lines, want at least 3", len(lines))
	}
	c.origin = lines[0]
	if c.origin == "" {
		return c, errors.New("empty origin")
	}
	if lines[1] != "0" && (lines[1] == "" || lines[1][0] < '1' || lines[1][0] > '9') {
		return c, fmt.Errorf("size %q is not decimal without leading zeroes", lines[1])
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return c, fmt.Errorf("size %q: %v", lines[1], err)
	}
	c.size = n
	root, err := parseHash(lines[2])
	if err != nil {
		return c, fmt.Errorf("root: %v", err)
	}
	c.root = root
	c.extensions = lines[3:]
	for _, e := range c.extensions {
		if e == "" {
			return c, errors.New("empty extension line")
		}
	}
	return c, nil
}

// parseHash decodes canonical standard base64 of exactly 32 bytes. Go's decoder ignores CR/LF and
// (without Strict) nonzero padding bits, so the round trip is what makes it canonical.
func parseHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return h, fmt.Errorf("%q is not base64", s)
	}
	if base64.StdEncoding.EncodeToString(b) != s {
		return h, fmt.Errorf("%q is not canonical base64", s)
	}
	if len(b) != tlog.HashSize {
		return h, fmt.Errorf("%q is %d bytes, want %d", s, len(b), tlog.HashSize)
	}
	copy(h[:], b)
	return h, nil
}

func parseHashes(ss []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		h, err := parseHash(s)
		if err != nil {
			return nil, fmt.Errorf("proof[%d]: %v", i, err)
		}
		out[i] = h
	}
	return out, nil
}

// ---------------------------------------------------------------------------------------------
// HTTP.

type client struct {
	base string
	http *http.Client
}

type httpError struct {
	path   string
	status int
	body   string
}

func (e *httpError) Error() string {
	var env struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(e.body), &env) == nil && env.Error != nil {
		return fmt.Sprintf("GET %s: HTTP %d: %s: %s", e.path, e.status, env.Error.Code, env.Error.Message)
	}
	body := e.body
	if len(body) > 200 {
		body = body[:200] + "..."
	}
	return fmt.Sprintf("GET %s: HTTP %d: %q", e.path, e.status, body)
}

func (c *client) get(path string) ([]byte, http.Header, error) {
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: reading body: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, &httpError{path, resp.StatusCode, string(body)}
	}
	return body, resp.Header, nil
}

func (c *client) getJSON(path string, v interface{}) error {
	body, _, err := c.get(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: bad JSON: %v: %.200q", path, err, body)
	}
	return nil
}

// c2spTilePath maps an x/mod tile to its c2sp.org/tlog-tiles path: x/mod's tile/8/<L>/<N> and
// tile/8/data/<N> become tile/<L>/<N> and tile/entries/<N>; the <N> groups and .p/<W> suffix are
// the same in both.
func c2spTilePath(t tlog.Tile) string {
	if t.H != tileHeight {
		panic(fmt.Sprintf("tile height %d, want %d", t.H, tileHeight))
	}
	p := strings.TrimPrefix(t.Path(), "tile/8/")
	if t.L == -1 {
		p = "entries" + strings.TrimPrefix(p, "data")
	}
	return "tile/" + p
}

// tileReader implements tlog.TileReader over HTTP. It caches raw responses: that is safe because
// tlog's tileHashReader re-authenticates every tile it is handed against the tree root on each
// ReadHashes call, cached or not.
type tileReader struct {
	c       *client
	mu      sync.Mutex
	cache   map[tlog.Tile][]byte
	fetched int
}

func (r *tileReader) Height() int { return tileHeight }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	errs := make([]error, len(tiles))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, t := range tiles {
		r.mu.Lock()
		d, ok := r.cache[t]
		r.mu.Unlock()
		if ok {
			data[i] = d
			continue
		}
		wg.Add(1)
		go func(i int, t tlog.Tile) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			path := "/" + c2spTilePath(t)
			body, _, err := r.c.get(path)
			if err != nil {
				errs[i] = err
				return
			}
			if len(body) != t.W*tlog.HashSize {
				errs[i] = fmt.Errorf("GET %s: %d bytes, want %d (%d hashes)", path, len(body), t.W*tlog.HashSize, t.W)
				return
			}
			data[i] = body
			r.mu.Lock()
			r.cache[t] = body
			r.fetched++
			r.mu.Unlock()
		}(i, t)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return data, nil
}

func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// ---------------------------------------------------------------------------------------------
// The checks.

type run struct {
	c        *client
	cp       checkpoint
	hr       tlog.HashReader
	tiles    *tileReader
	failures []string
	counts   map[string]int
}

func (r *run) fail(check, format string, args ...interface{}) {
	r.failures = append(r.failures, fmt.Sprintf("FAIL %s: %s", check, fmt.Sprintf(format, args...)))
}

func (r *run) ok(check string) { r.counts[check]++ }

func equalHashes(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func hashesString(hs []tlog.Hash) string {
	s := make([]string, len(hs))
	for i, h := range hs {
		s[i] = h.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

// leafHashes reads level-0 hashes [start, end) through the authenticating tile hash reader.
func (r *run) leafHashes(start, end int64) ([]tlog.Hash, error) {
	idx := make([]int64, 0, end-start)
	for i := start; i < end; i++ {
		idx = append(idx, tlog.StoredHashIndex(0, i))
	}
	return r.hr.ReadHashes(idx)
}

func (r *run) checkInclusion(i int64) {
	n := r.cp.size
	check := fmt.Sprintf("inclusion index=%d size=%d", i, n)
	path := fmt.Sprintf("/proof/inclusion?index=%d&size=%d", i, n)
	var resp struct {
		Index    *int64   `json:"index"`
		Size     *int64   `json:"size"`
		LeafHash *string  `json:"leafHash"`
		Proof    []string `json:"proof"`
		Root     *string  `json:"root"`
	}
	if err := r.c.getJSON(path, &resp); err != nil {
		r.fail(check, "%v", err)
		return
	}
	if resp.Index == nil || *resp.Index != i || resp.Size == nil || *resp.Size != n {
		r.fail(check, "GET %s: response does not echo index %d and size %d", path, i, n)
		return
	}
	if resp.LeafHash == nil || resp.Proof == nil {
		r.fail(check, "GET %s: response lacks leafHash or proof", path)
		return
	}
	leaf, err := parseHash(*resp.LeafHash)
	if err != nil {
		r.fail(check, "GET %s: leafHash: %v", path, err)
		return
	}
	proof, err := parseHashes(resp.Proof)
	if err != nil {
		r.fail(check, "GET %s: %v", path, err)
		return
	}
	if resp.Root != nil {
		if root, err := parseHash(*resp.Root); err != nil || root != r.cp.root {
			r.fail(check, "GET %s: root %q is not the checkpoint root %s", path, *resp.Root, r.cp.root)
		}
	}
	if err := tlog.CheckRecord(tlog.RecordProof(proof), n, r.cp.root, i, leaf); err != nil {
		r.fail(check, "tlog.CheckRecord rejects the server's proof %s for leaf %s: %v", hashesString(proof), leaf, err)
		return
	}
	mine, err := tlog.ProveRecord(n, i, r.hr)
	if err != nil {
		r.fail(check, "tlog.ProveRecord over the server's tiles: %v", err)
		return
	}
	if !equalHashes(mine, proof) {
		r.fail(check, "server proof %s differs from tlog.ProveRecord %s", hashesString(proof), hashesString(mine))
		return
	}
	tileLeaf, err := r.leafHashes(i, i+1)
	if err != nil {
		r.fail(check, "level-0 tile: %v", err)
		return
	}
	if tileLeaf[0] != leaf {
		r.fail(check, "leafHash %s differs from level-0 tile hash %s", leaf, tileLeaf[0])
		return
	}

	epath := fmt.Sprintf("/entries?start=%d&end=%d", i, i+1)
	var entries struct {
		Entries []struct {
			Index *int64  `json:"index"`
			Data  *string `json:"data"`
		} `json:"entries"`
	}
	if err := r.c.getJSON(epath, &entries); err != nil {
		r.fail(check, "%v", err)
		return
	}
	if len(entries.Entries) != 1 || entries.Entries[0].Index == nil || *entries.Entries[0].Index != i || entries.Entries[0].Data == nil {
		r.fail(check, "GET %s: want exactly one entry with index %d and data, got %d entries", epath, i, len(entries.Entries))
		return
	}
	data, err := base64.StdEncoding.Strict().DecodeString(*entries.Entries[0].Data)
	if err != nil || base64.StdEncoding.EncodeToString(data) != *entries.Entries[0].Data {
		r.fail(check, "GET %s: data is not canonical base64", epath)
		return
	}
	if got := tlog.RecordHash(data); got != leaf {
		r.fail(check, "RecordHash(entry %d) = %s, but the leaf hash is %s", i, got, leaf)
		return
	}
	r.ok("inclusion")
}

func (r *run) checkConsistency(m int64) {
	n := r.cp.size
	check := fmt.Sprintf("consistency from=%d to=%d", m, n)
	old, err := tlog.TreeHash(m, r.hr)
	if err != nil {
		r.fail(check, "tlog.TreeHash(%d) over the server's tiles: %v", m, err)
		return
	}
	path := fmt.Sprintf("/proof/consistency?from=%d&to=%d", m, n)
	var resp struct {
		From  *int64   `json:"from"`
		To    *int64   `json:"to"`
		Proof []string `json:"proof"`
	}
	if err := r.c.getJSON(path, &resp); err != nil {
		r.fail(check, "%v", err)
		return
	}
	if resp.From == nil || *resp.From != m || resp.To == nil || *resp.To != n {
		r.fail(check, "GET %s: response does not echo from %d and to %d", path, m, n)
		return
	}
	if resp.Proof == nil {
		r.fail(check, "GET %s: response lacks proof", path)
		return
	}
	proof, err := parseHashes(resp.Proof)
	if err != nil {
		r.fail(check, "GET %s: %v", path, err)
		return
	}
	if err := tlog.CheckTree(tlog.TreeProof(proof), n, r.cp.root, m, old); err != nil {
		r.fail(check, "tlog.CheckTree rejects the server's proof %s (old root %s): %v", hashesString(proof), old, err)
		return
	}
	mine, err := tlog.ProveTree(n, m, r.hr)
	if err != nil {
		r.fail(check, "tlog.ProveTree over the server's tiles: %v", err)
		return
	}
	if !equalHashes(mine, proof) {
		r.fail(check, "server proof %s differs from tlog.ProveTree %s", hashesString(proof), hashesString(mine))
		return
	}
	r.ok("consistency")
}

// checkBundle fetches entry bundle (index, width) and checks every entry against the level-0 tile.
func (r *run) checkBundle(index int64, width int) {
	t := tlog.Tile{H: tileHeight, L: -1, N: index, W: width}
	path := "/" + c2spTilePath(t)
	check := "bundle " + path
	body, _, err := r.c.get(path)
	if err != nil {
		r.fail(check, "%v", err)
		return
	}
	var entries [][]byte
	for off := 0; off < len(body); {
		if off+2 > len(body) {
			r.fail(check, "truncated length prefix at byte %d", off)
			return
		}
		l := int(binary.BigEndian.Uint16(body[off:]))
		if off+2+l > len(body) {
			r.fail(check, "entry %d is truncated (length %d at byte %d of %d)", len(entries), l, off, len(body))
			return
		}
		entries = append(entries, body[off+2:off+2+l])
		off += 2 + l
	}
	if len(entries) != width {
		r.fail(check, "%d entries, want %d", len(entries), width)
		return
	}
	start := index * tileWidth
	hashes, err := r.leafHashes(start, start+int64(width))
	if err != nil {
		r.fail(check, "level-0 tile: %v", err)
		return
	}
	for k, e := range entries {
		if got := tlog.RecordHash(e); got != hashes[k] {
			r.fail(check, "RecordHash(entry %d) = %s, level-0 tile has %s", start+int64(k), got, hashes[k])
			return
		}
	}
	r.ok("bundles")
}

// checkAllTiles authenticates every hash tile of the tree. x/mod 0.7.0's NewTiles lists every
// intermediate partial width, but a log only has to serve the partial tile of each published size,
// so only the full tiles and the final partial tile of each level are kept.
func (r *run) checkAllTiles() {
	n := r.cp.size
	var idx []int64
	for _, t := range tlog.NewTiles(tileHeight, 0, n) {
		rowWidth := n >> uint(tileHeight*t.L)
		if t.W != tileWidth && int64(t.W) != rowWidth-t.N*tileWidth {
			continue
		}
		// Asking for one hash of a tile makes tileHashReader fetch and authenticate the tile.
		idx = append(idx, tlog.StoredHashIndex(tileHeight*t.L, t.N*tileWidth))
	}
	if _, err := r.hr.ReadHashes(idx); err != nil {
		r.fail("all tiles", "authenticating %d tiles: %v", len(idx), err)
		return
	}
	r.counts["all-tiles"] = len(idx)
}

// ---------------------------------------------------------------------------------------------

// openCheckpoint verifies a signed checkpoint with x/mod's note.Open (log key plus any witness
// keys, all of which must have signed) and parses its body strictly.
func (r *run) openCheckpoint(what string, body []byte, logV note.Verifier, witnesses []*cosigVerifier) (checkpoint, bool) {
	verifiers := []note.Verifier{logV}
	for _, w := range witnesses {
		verifiers = append(verifiers, w)
	}
	opened, err := note.Open(body, note.VerifierList(verifiers...))
	if err != nil {
		r.fail(what+" signature", "note.Open with log key %s+%08x: %v\n%s", logV.Name(), logV.KeyHash(), err, body)
		return checkpoint{}, false
	}
	signedBy := func(name string, hash uint32) bool {
		for _, s := range opened.Sigs {
			if s.Name == name && s.Hash == hash {
				return true
			}
		}
		return false
	}
	// note.Open accepts a note signed by any known key; the log's own signature is mandatory.
	if !signedBy(logV.Name(), logV.KeyHash()) {
		r.fail(what+" signature", "no signature by the log key %s+%08x", logV.Name(), logV.KeyHash())
	}
	for _, w := range witnesses {
		if !signedBy(w.name, w.hash) {
			r.fail("cosignature", "no cosignature/v1 by witness %s+%08x on %s", w.name, w.hash, what)
		}
	}
	cp, err := parseCheckpoint(opened.Text)
	if err != nil {
		r.fail(what+" body", "%v: %q", err, opened.Text)
		return checkpoint{}, false
	}
	// Candor names its key after its origin (c2sp.org/tlog-checkpoint SHOULD).
	if cp.origin != logV.Name() {
		r.fail(what+" body", "origin %q differs from the key name %q", cp.origin, logV.Name())
	}
	return cp, true
}

// checkOld checks that an earlier checkpoint is a prefix of the trusted one: its root must be
// what the (authenticated) tiles give for its size, and the server's consistency proof between
// the two must pass tlog.CheckTree.
func (r *run) checkOld(old checkpoint) {
	check := fmt.Sprintf("old checkpoint size=%d", old.size)
	if old.size == 0 {
		if empty := tlog.Hash(sha256.Sum256(nil)); old.root != empty {
			r.fail(check, "size 0 with root %s, want SHA-256(\"\") = %s", old.root, empty)
		}
		return
	}
	th, err := tlog.TreeHash(old.size, r.hr)
	if err != nil {
		r.fail(check, "tlog.TreeHash(%d) over the tiles of size %d: %v", old.size, r.cp.size, err)
		return
	}
	if th != old.root {
		r.fail(check, "signed root %s, but the tiles of size %d give %s: the log forked", old.root, r.cp.size, th)
		return
	}
	before := len(r.failures)
	r.checkConsistency(old.size)
	if len(r.failures) == before {
		r.ok("old-checkpoint")
	}
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	os.Exit(mainErr())
}

func mainErr() int {
	url := flag.String("url", "", "base URL of the log, e.g. http://127.0.0.1:8080")
	vkey := flag.String("vkey", "", "the log's verifier key <name>+<id>+<base64>")
	var witnessKeys multiFlag
	flag.Var(&witnessKeys, "witness-vkey", "cosignature/v1 verifier key of a witness whose cosignature is required (repeatable)")
	samples := flag.Int("samples", 16, "random leaf indexes and old sizes to check, besides the edges")
	seed := flag.Int64("seed", 0, "random seed (0: time-based)")
	fullScan := flag.Int64("full-scan-limit", 1<<17, "authenticate every hash tile when the tree has at most this many leaves")
	cpFile := flag.String("checkpoint", "", "verify against this signed checkpoint (a file) instead of GET /checkpoint")
	oldFile := flag.String("old-checkpoint", "", "an earlier signed checkpoint (a file) that must be consistent with the checkpoint")
	timeout := flag.Duration("timeout", 30*time.Second, "HTTP timeout per request")
	flag.Parse()
	if *url == "" || *vkey == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: candor-interop -url URL -vkey VKEY [-witness-vkey VKEY ...] [-samples N] [-seed S] [-checkpoint FILE] [-old-checkpoint FILE]")
		flag.PrintDefaults()
		return 2
	}
	if *seed == 0 {
		*seed = time.Now().UnixNano()
	}
	rng := rand.New(rand.NewSource(*seed))

	logV, err := note.NewVerifier(*vkey)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL vkey: note.NewVerifier(%q): %v\n", *vkey, err)
		return 2
	}
	var witnesses []*cosigVerifier
	for _, k := range witnessKeys {
		w, err := newCosigVerifier(k)
		if err != nil {
			fmt.Fprintf(os.Stderr, "FAIL witness-vkey %q: %v\n", k, err)
			return 2
		}
		witnesses = append(witnesses, w)
	}

	c := &client{
		base: strings.TrimSuffix(*url, "/"),
		http: &http.Client{Timeout: *timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 16}},
	}
	r := &run{c: c, counts: map[string]int{}}
	finish := func() int {
		if len(r.failures) > 0 {
			for _, f := range r.failures {
				fmt.Fprintln(os.Stderr, f)
			}
			fmt.Fprintf(os.Stderr, "candor-interop FAILED: %d check(s) failed against %s (seed %d)\n", len(r.failures), c.base, *seed)
			return 1
		}
		return 0
	}

	// The trusted checkpoint: the log's latest, unless one is given (a client holding an older
	// checkpoint must still be able to fetch its partial tiles and proofs).
	var body []byte
	what := "checkpoint"
	if *cpFile != "" {
		what = "checkpoint " + *cpFile
		if body, err = os.ReadFile(*cpFile); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", what, err)
			return 2
		}
	} else {
		var hdr http.Header
		if body, hdr, err = c.get("/checkpoint"); err != nil {
			r.fail(what, "%v", err)
			return finish()
		}
		if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			r.fail(what, "Content-Type %q, want text/plain; charset=utf-8 (c2sp.org/tlog-tiles)", ct)
		}
	}
	cp, ok := r.openCheckpoint(what, body, logV, witnesses)
	if !ok || len(r.failures) > 0 {
		return finish()
	}
	r.cp = cp
	var old *checkpoint
	if *oldFile != "" {
		oldBody, err := os.ReadFile(*oldFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "FAIL old checkpoint %s: %v\n", *oldFile, err)
			return 2
		}
		// Only the log's signature is required here: the old one may predate any cosignature.
		o, ok := r.openCheckpoint("old checkpoint "+*oldFile, oldBody, logV, nil)
		if !ok {
			return finish()
		}
		if o.size > cp.size {
			r.fail("old checkpoint "+*oldFile, "size %d is larger than the checkpoint's %d", o.size, cp.size)
			return finish()
		}
		old = &o
	}

	n := cp.size
	if n == 0 {
		// x/mod 0.7.0's TreeHash(0) is the all-zero hash, not the RFC 6962 empty root; check directly.
		if empty := tlog.Hash(sha256.Sum256(nil)); cp.root != empty {
			r.fail("checkpoint body", "size 0 with root %s, want SHA-256(\"\") = %s", cp.root, empty)
		}
		if old != nil {
			r.checkOld(*old)
		}
		if code := finish(); code != 0 {
			return code
		}
		fmt.Printf("candor-interop OK: origin=%q size=0 root=%s cosignatures=%d (empty tree; nothing else to check)\n", cp.origin, cp.root, len(witnesses))
		return 0
	}

	r.tiles = &tileReader{c: c, cache: map[tlog.Tile][]byte{}}
	r.hr = tlog.TileHashReader(tlog.Tree{N: n, Hash: cp.root}, r.tiles)

	// The tiles needed for the root must hash to the signed root; every later read depends on it.
	if th, err := tlog.TreeHash(n, r.hr); err != nil {
		r.fail("tree hash", "tiles for size %d: %v", n, err)
		return finish()
	} else if th != cp.root {
		r.fail("tree hash", "tlog.TreeHash(%d) = %s, checkpoint root %s", n, th, cp.root)
		return finish()
	}

	if n <= *fullScan {
		r.checkAllTiles()
	}

	leaves := map[int64]bool{0: true, n - 1: true}
	for k := 0; k < *samples; k++ {
		leaves[rng.Int63n(n)] = true
	}
	// Tile boundaries are where off-by-one errors in tile math show up.
	olds := map[int64]bool{1: true, n: true}
	for _, b := range []int64{tileWidth - 1, tileWidth, tileWidth + 1, tileWidth * tileWidth, n - 1} {
		if b >= 1 && b <= n {
			olds[b] = true
		}
	}
	for k := 0; k < *samples; k++ {
		olds[1+rng.Int63n(n)] = true
	}
	for _, i := range sortedKeys(leaves) {
		r.checkInclusion(i)
	}
	for _, m := range sortedKeys(olds) {
		r.checkConsistency(m)
	}
	if old != nil {
		r.checkOld(*old)
	}

	full := n / tileWidth
	if full > 0 {
		r.checkBundle(0, tileWidth)
		if full > 1 {
			r.checkBundle(1+rng.Int63n(full-1), tileWidth)
		}
	}
	if w := int(n % tileWidth); w > 0 {
		r.checkBundle(full, w)
	}

	if code := finish(); code != 0 {
		return code
	}
	times := []string{}
	for _, w := range witnesses {
		for _, t := range w.times {
			times = append(times, strconv.FormatUint(t, 10))
		}
	}
	fmt.Printf("candor-interop OK: origin=%q size=%d root=%s cosignatures=%d%s inclusion=%d consistency=%d old-checkpoint=%d bundles=%d all-tiles=%d tiles-fetched=%d seed=%d\n",
		cp.origin, n, cp.root, len(witnesses), timesSuffix(times), r.counts["inclusion"], r.counts["consistency"], r.counts["old-checkpoint"], r.counts["bundles"], r.counts["all-tiles"], r.tiles.fetched, *seed)
	return 0
}

func timesSuffix(times []string) string {
	if len(times) == 0 {
		return ""
	}
	return " (times " + strings.Join(times, ",") + ")"
}

func sortedKeys(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
