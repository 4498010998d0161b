// Command tlogbench measures golang.org/x/mod/sumdb/tlog on the same work as Candor's
// bench/gotlog.ts, in the same run: building a tree from records (StoredHashes for every record,
// then TreeHash) and generating inclusion proofs (ProveRecord) over the stored hashes, both
// through a plain HashReader (what a server holding its hashes does) and through a
// TileHashReader over height-8 tiles (which also authenticates every tile it reads against the
// tree hash, as a client does).
//
// Input: -records, a file of n fixed-size records; -indexes, a file of little-endian uint64 record
// indexes to prove. Output: one JSON object on stdout.
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

type result struct {
	N                int64     `json:"n"`
	Root             string    `json:"root"`
	Sha256PerSec     float64   `json:"sha256PerSec"`
	BuildPerSec      []float64 `json:"buildPerSec"`
	ProofsHashReader []float64 `json:"proofsHashReaderPerSec"`
	ProofsTileReader []float64 `json:"proofsTileReaderPerSec"`
	Go               string    `json:"go"`
}

// memHashes is the stored-hash array of a tree, as StoredHashes lays it out.
type memHashes struct{ h []tlog.Hash }

func (m *memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x >= int64(len(m.h)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = m.h[x]
	}
	return out, nil
}

// memTiles serves height-8 tiles from memory; a partial tile is a prefix of the widest one stored.
type memTiles struct{ t map[[2]int64][]byte }

func (m *memTiles) Height() int { return 8 }

func (m *memTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		d := m.t[[2]int64{int64(t.L), t.N}]
		if len(d) < t.W*tlog.HashSize {
			return nil, fmt.Errorf("tile %s not stored", t.Path())
		}
		out[i] = d[:t.W*tlog.HashSize]
	}
	return out, nil
}

func (m *memTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tlogbench:", err)
	os.Exit(1)
}

func main() {
	recordsFile := flag.String("records", "", "file of fixed-size records")
	size := flag.Int("size", 64, "record size in bytes")
	indexesFile := flag.String("indexes", "", "file of little-endian uint64 indexes to prove")
	runs := flag.Int("runs", 3, "timed runs of each measurement")
	flag.Parse()

	raw, err := os.ReadFile(*recordsFile)
	if err != nil {
		fail(err)
	}
	n := int64(len(raw) / *size)
	records := make([][]byte, n)
	for i := range records {
		records[i] = raw[i**size : (i+1)**size]
	}
	ixRaw, err := os.ReadFile(*indexesFile)
	if err != nil {
		fail(err)
	}
	indexes := make([]int64, len(ixRaw)/8)
	for i := range indexes {
		indexes[i] = int64(binary.LittleEndian.Uint64(ixRaw[i*8:]))
	}
	res := result{N: n, Go: goVersion()}

	// The hashing ceiling: SHA-256 of a 65-byte input (0x00 || 64-byte record).
	in := make([]byte, 65)
	count := 0
	start := time.Now()
	for time.Since(start) < 400*time.Millisecond {
		for i := 0; i < 1000; i++ {
			in[1] = byte(i)
			sha256.Sum256(in)
		}
		count += 1000
	}
	res.Sha256PerSec = float64(count) / time.Since(start).Seconds()

	// Tree building: every record's stored hashes (its leaf hash and the interior nodes it
	// completes), then the tree hash. One warm-up build, then timed ones.
	var store *memHashes
	var root tlog.Hash
	for r := 0; r <= *runs; r++ {
		s := &memHashes{h: make([]tlog.Hash, 0, tlog.StoredHashCount(n))}
		t0 := time.Now()
		for i := int64(0); i < n; i++ {
			hs, err := tlog.StoredHashes(i, records[i], s)
			if err != nil {
				fail(err)
			}
			s.h = append(s.h, hs...)
		}
		root, err = tlog.TreeHash(n, s)
		if err != nil {
			fail(err)
		}
		if r > 0 {
			res.BuildPerSec = append(res.BuildPerSec, float64(n)/time.Since(t0).Seconds())
		}
		store = s
	}
	res.Root = base64.StdEncoding.EncodeToString(root[:])

	// The proofs must check, or the timings mean nothing.
	for _, x := range indexes[:min(len(indexes), 100)] {
		p, err := tlog.ProveRecord(n, x, store)
		if err != nil {
			fail(err)
		}
		if err := tlog.CheckRecord(p, n, root, x, tlog.RecordHash(records[x])); err != nil {
			fail(err)
		}
	}
	prove := func(hr tlog.HashReader) float64 {
		t0 := time.Now()
		for _, x := range indexes {
			if _, err := tlog.ProveRecord(n, x, hr); err != nil {
				fail(err)
			}
		}
		return float64(len(indexes)) / time.Since(t0).Seconds()
	}
	prove(store)
	for r := 0; r < *runs; r++ {
		res.ProofsHashReader = append(res.ProofsHashReader, prove(store))
	}

	tiles := &memTiles{t: map[[2]int64][]byte{}}
	for _, t := range tlog.NewTiles(8, 0, n) {
		d, err := tlog.ReadTileData(t, store)
		if err != nil {
			fail(err)
		}
		tiles.t[[2]int64{int64(t.L), t.N}] = d
	}
	thr := tlog.TileHashReader(tlog.Tree{N: n, Hash: root}, tiles)
	prove(thr)
	for r := 0; r < *runs; r++ {
		res.ProofsTileReader = append(res.ProofsTileReader, prove(thr))
	}

	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func goVersion() string { return runtime.Version() }
