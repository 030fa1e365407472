// pipeline: the Go peer of the statistics pipeline (examples/stats_pipeline, whose
// stats_pipeline.hpp describes the stages; this file follows run_pipeline stage for stage).
//
//	pipeline_inputs --quotes Q [--symbols 300] [--options-per-underlying 100] [--seed 1] DIR
//	GOMAXPROCS=2 gobench pipeline DIR QUOTES_PER_SNAPSHOT CHUNK
//
// DIR holds what bench/pipeline/pipeline_inputs.cpp writes (the format is described there): the
// option book with its precomputed columns, the underlyings' starting prices and the market's
// ticks, all bit for bit as the goro program computes them, so this program need not port the
// universe, market and book generators. They are read before the clock starts; the quote source
// then sends the recorded ticks where the C++ one draws them from qf::market (an integer random
// walk: a few ns a tick, next to 30,000 valuations per 100 ticks).
//
//	quote source --quotes--> snapshot updater --snaps--> fan-out --jobs--> GOMAXPROCS revaluation
//	goroutines --partials--> aggregator --reports--> report consumer
//
// Channel capacities are the C++ defaults (sp::config and main.cpp): quotes 1024, snapshots 2,
// jobs and partials 2 per worker, reports 4, and a window of 4 snapshot versions between the
// fan-out and the report send (a buffered channel used as a counting semaphore, where the C++
// uses goro::semaphore). The arithmetic is the C++'s, operation for operation, so the reports
// agree with the goro program's to the last few ulps (math.Log/Exp/Erfc against glibc's).
//
// Output: RESULT pipeline_vps, RESULT pipeline_vps_core (per revaluation goroutine), and
// "DIGEST <version> <value> <delta> <gamma> <vega>": the final report's totals.
package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

const (
	ppSectors         = 11 // qf::sector_count; book.bin says so too, and it is checked
	ppQuoteCap        = 1024
	ppSnapshotCap     = 2
	ppJobsPerWorker   = 2 // jobs and partials channels: 2 per worker
	ppReportCap       = 4 // main.cpp's report channel
	ppVersionsInFlght = 4
)

// ---- the inputs -------------------------------------------------------------------------------

type ppBook struct {
	rate        float64
	underlyings int
	underlying  []uint32
	sector      []uint8
	call        []uint8
	strike      []float64
	expiry      []float64
	sigma       []float64
	quantity    []float64
	sigSqrtT    []float64
	drift       []float64
	discStrike  []float64
	sqrtT       []float64
}

func (b *ppBook) size() int { return len(b.underlying) }

type ppTick struct {
	index    uint32
	bid, ask int64 // qf::fix::price: millionths of a dollar
}

// binReader decodes one little-endian input file, failing with the file's name.
type binReader struct {
	path string
	b    []byte
}

func openBin(dir, name, magic string) *binReader {
	path := filepath.Join(dir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		die("pipeline: %v (write the inputs with pipeline_inputs)", err)
	}
	r := &binReader{path: path, b: data}
	if string(r.take(8)) != magic {
		die("pipeline: %s does not start with %s", path, magic)
	}
	return r
}

func (r *binReader) take(n int) []byte {
	if n < 0 || len(r.b) < n {
		die("pipeline: %s is too short", r.path)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
func (r *binReader) u64() uint64  { return binary.LittleEndian.Uint64(r.take(8)) }
func (r *binReader) f64() float64 { return math.Float64frombits(r.u64()) }
func (r *binReader) count(limit uint64) int {
	v := r.u64()
	if v > limit {
		die("pipeline: %s: a count of %d is out of range", r.path, v)
	}
	return int(v)
}
func (r *binReader) f64s(n int) []float64 {
	raw := r.take(8 * n)
	v := make([]float64, n)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	return v
}
func (r *binReader) end() {
	if len(r.b) != 0 {
		die("pipeline: %s has %d bytes too many", r.path, len(r.b))
	}
}

func readPipelineInputs(dir string) (*ppBook, []float64, []ppTick, float64) {
	r := openBin(dir, "book.bin", "GOROBOOK")
	n := r.count(1 << 32)
	b := &ppBook{underlyings: r.count(1 << 32)}
	if s := r.u64(); s != ppSectors {
		die("pipeline: %s: %d sectors, this program knows %d", r.path, s, ppSectors)
	}
	b.rate = r.f64()
	raw := r.take(4 * n)
	b.underlying = make([]uint32, n)
	for i := range b.underlying {
		b.underlying[i] = binary.LittleEndian.Uint32(raw[4*i:])
		if int(b.underlying[i]) >= b.underlyings {
			die("pipeline: %s: option %d's underlying is out of range", r.path, i)
		}
	}
	b.sector = append([]uint8(nil), r.take(n)...)
	for i, s := range b.sector {
		if s >= ppSectors {
			die("pipeline: %s: option %d's sector is out of range", r.path, i)
		}
	}
	b.call = append([]uint8(nil), r.take(n)...)
	for _, col := range []*[]float64{&b.strike, &b.expiry, &b.sigma, &b.quantity, &b.sigSqrtT, &b.drift, &b.discStrike, &b.sqrtT} {
		*col = r.f64s(n)
	}
	r.end()
	if n == 0 {
		die("pipeline: the book is empty")
	}

	r = openBin(dir, "spots.bin", "GOROSPOT")
	if c := r.count(1 << 32); c != b.underlyings {
		die("pipeline: %s: %d prices for %d underlyings", r.path, c, b.underlyings)
	}
	spots := r.f64s(b.underlyings)
	r.end()

	r = openBin(dir, "ticks.bin", "GOROTICK")
	q := r.count(uint64(len(r.b)) / 20)
	scale := float64(int64(r.u64())) // qf::fix::price_scale, as the C++ converts it: to double
	raw = r.take(20 * q)
	ticks := make([]ppTick, q)
	for i := range ticks {
		rec := raw[20*i:]
		ticks[i] = ppTick{
			index: binary.LittleEndian.Uint32(rec),
			bid:   int64(binary.LittleEndian.Uint64(rec[4:])),
			ask:   int64(binary.LittleEndian.Uint64(rec[12:])),
		}
		if int(ticks[i].index) >= b.underlyings {
			die("pipeline: %s: tick %d's index is out of range", r.path, i)
		}
	}
	r.end()
	return b, spots, ticks, scale
}

// ---- Black-Scholes and the revaluation --------------------------------------------------------

const (
	invSqrt2Pi = 0.39894228040143267794 // 1 / sqrt(2 pi)
	sqrt1_2    = 0.70710678118654752440 // 1 / sqrt(2)
)

type ppGreeks struct{ value, delta, gamma, vega float64 }

func (g *ppGreeks) add(o *ppGreeks) {
	g.value += o.value
	g.delta += o.delta
	g.gamma += o.gamma
	g.vega += o.vega
}

type ppAggregate struct {
	bySector   [ppSectors]ppGreeks
	total      ppGreeks // the sum of bySector in sector order (finish)
	valuations uint64
}

func (a *ppAggregate) add(o *ppAggregate) {
	for s := range a.bySector {
		a.bySector[s].add(&o.bySector[s])
	}
	a.total.add(&o.total)
	a.valuations += o.valuations
}

func (a *ppAggregate) finish() {
	a.total = ppGreeks{}
	for s := range a.bySector {
		a.total.add(&a.bySector[s])
	}
}

// valueChunk: options [begin, end) at the snapshot's spots, per-sector sums in option order.
// bs_kernel is inlined by hand, in the C++'s order of operations. The float64(...) conversions
// around products forbid the compiler to fuse them with an add into an FMA (the Go spec allows
// that fusion; gcc at -O2 without -march does not do it on x86-64): the same doubles as the C++.
func valueChunk(b *ppBook, spot []float64, begin, end int) ppAggregate {
	var a ppAggregate
	// Re-sliced to the chunk, so that the compiler drops the bounds checks of the loop.
	und := b.underlying[begin:end]
	sec := b.sector[begin:end]
	call := b.call[begin:end]
	strike := b.strike[begin:end]
	disc := b.discStrike[begin:end]
	drift := b.drift[begin:end]
	sst := b.sigSqrtT[begin:end]
	sqt := b.sqrtT[begin:end]
	qty := b.quantity[begin:end]
	for i := range und {
		S := spot[und[i]]
		w := -1.0
		if call[i] != 0 {
			w = 1.0
		}
		d1 := (math.Log(S/strike[i]) + drift[i]) / sst[i]
		d2 := d1 - sst[i]
		n1 := 0.5 * math.Erfc(-(w*d1)*sqrt1_2) // N(w d1) = erfc(-x / sqrt 2) / 2, x = w d1
		n2 := 0.5 * math.Erfc(-(w*d2)*sqrt1_2) // N(w d2)
		pdf := math.Exp(-0.5*d1*d1) * invSqrt2Pi
		price := w * (float64(S*n1) - float64(disc[i]*n2))
		delta := w * n1
		gamma := pdf / (S * sst[i])
		vega := S * pdf * sqt[i]
		q := qty[i]
		g := &a.bySector[sec[i]]
		g.value += float64(q * price)
		g.delta += float64(q * delta)
		g.gamma += float64(q * gamma)
		g.vega += float64(q * vega)
	}
	a.valuations = uint64(end - begin)
	return a
}

// ---- the pipeline -----------------------------------------------------------------------------

// ppSnapshot: the market at one instant, never modified once published.
type ppSnapshot struct {
	version uint64
	quotes  uint64 // quotes applied since the start
	spot    []float64
}

type ppJob struct {
	snap  *ppSnapshot
	chunk int
}

type ppPartial struct {
	version, quotes uint64
	chunk           int
	agg             ppAggregate
}

type ppReport struct {
	version, quotes uint64
	agg             ppAggregate
	lag             uint64 // latest published version minus this one, when the report was sent
}

type ppResult struct {
	workers    int
	quotes     uint64
	snapshots  uint64
	valuations uint64
	seconds    float64 // from the start of the stages to the last report sent
}

// runPipeline runs every stage, sends one report per version, in version order, on reports and
// closes it; it returns once every stage has finished (run_pipeline's contract).
func runPipeline(b *ppBook, spots []float64, ticks []ppTick, scale float64, quotesPerSnapshot, chunk int,
	reports chan<- ppReport) ppResult {
	workers := runtime.GOMAXPROCS(0)
	nchunks := (b.size() + chunk - 1) / chunk

	quotes := make(chan ppTick, ppQuoteCap)
	snaps := make(chan *ppSnapshot, ppSnapshotCap)
	jobs := make(chan ppJob, ppJobsPerWorker*workers)
	partials := make(chan ppPartial, ppJobsPerWorker*workers)
	// The version window: the fan-out puts a token in before dispatching a version, the
	// aggregator takes one out once that version's report is sent. Without it a stalled worker
	// holding the oldest version's last chunk would let the others complete newer versions that
	// the aggregator, reporting in order, would have to buffer without bound.
	window := make(chan struct{}, ppVersionsInFlght)
	// The latest published snapshot (for the report's lag), the snapshot_cell of the C++.
	var cell atomic.Pointer[ppSnapshot]
	var published uint64 // written by the updater only; read after it is joined

	var stages, pool sync.WaitGroup
	start := time.Now()

	// Quote source.
	stages.Add(1)
	go func() {
		defer stages.Done()
		for _, t := range ticks {
			quotes <- t
		}
		close(quotes)
	}()

	// Snapshot updater: a new immutable snapshot every quotesPerSnapshot quotes, and one more
	// for a final partial batch.
	stages.Add(1)
	go func() {
		defer stages.Done()
		px := append([]float64(nil), spots...)
		var applied, version uint64
		pending := 0
		publish := func() {
			version++
			s := &ppSnapshot{version: version, quotes: applied, spot: append([]float64(nil), px...)}
			cell.Store(s)
			published++
			snaps <- s
			pending = 0
		}
		for t := range quotes {
			px[t.index] = 0.5 * (float64(t.bid)/scale + float64(t.ask)/scale) // the mid, in dollars
			applied++
			pending++
			if pending == quotesPerSnapshot {
				publish()
			}
		}
		if pending > 0 {
			publish()
		}
		close(snaps)
	}()

	// Fan-out: one job per chunk of the book, each with the same snapshot pointer (the workers
	// share the immutable prices; the garbage collector frees a snapshot after its last job).
	stages.Add(1)
	go func() {
		defer stages.Done()
		for s := range snaps {
			window <- struct{}{}
			for k := 0; k < nchunks; k++ {
				jobs <- ppJob{snap: s, chunk: k}
			}
		}
		close(jobs)
	}()

	// Revaluation goroutines, one per P.
	pool.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer pool.Done()
			for j := range jobs {
				begin := j.chunk * chunk
				end := begin + chunk
				if end > b.size() {
					end = b.size()
				}
				partials <- ppPartial{version: j.snap.version, quotes: j.snap.quotes, chunk: j.chunk,
					agg: valueChunk(b, j.snap.spot, begin, end)}
			}
		}()
	}

	// Aggregator: a version's report once all its chunks are in, summed in chunk order (so the
	// totals do not depend on which worker finished first), sent in version order.
	stages.Add(1)
	go func() {
		defer stages.Done()
		type pendingVersion struct {
			quotes uint64
			got    int
			parts  []ppAggregate
		}
		pend := make(map[uint64]*pendingVersion)
		next := uint64(1)
		for p := range partials {
			e := pend[p.version]
			if e == nil {
				e = &pendingVersion{parts: make([]ppAggregate, nchunks)}
				pend[p.version] = e
			}
			e.parts[p.chunk] = p.agg
			e.quotes = p.quotes
			e.got++
			for {
				v, ok := pend[next]
				if !ok || v.got != nchunks {
					break
				}
				r := ppReport{version: next, quotes: v.quotes}
				for k := range v.parts {
					r.agg.add(&v.parts[k])
				}
				r.agg.finish()
				delete(pend, next)
				if latest := cell.Load(); latest != nil {
					r.lag = latest.version - r.version
				}
				reports <- r
				<-window
				next++
			}
		}
		close(reports)
	}()

	pool.Wait()
	close(partials)
	stages.Wait()
	el := time.Since(start)

	return ppResult{
		workers:    workers,
		quotes:     uint64(len(ticks)),
		snapshots:  published,
		valuations: published * uint64(b.size()), // every version is revalued in full
		seconds:    el.Seconds(),
	}
}

func benchPipeline(dir string, quotesPerSnapshot, chunk uint64) {
	b, spots, ticks, scale := readPipelineInputs(dir)
	if len(ticks) == 0 {
		die("pipeline: %s holds no ticks: no snapshot to revalue", filepath.Join(dir, "ticks.bin"))
	}
	if quotesPerSnapshot > uint64(len(ticks))+1 {
		quotesPerSnapshot = uint64(len(ticks)) + 1 // the same snapshots; keeps it an int
	}
	if chunk > uint64(b.size()) {
		chunk = uint64(b.size()) // one job per version either way
	}

	// The report consumer, started before the pipeline as main.cpp starts its own.
	type summary struct {
		reports, maxLag uint64
		last            ppReport
	}
	reports := make(chan ppReport, ppReportCap)
	got := make(chan summary)
	go func() {
		var s summary
		for r := range reports {
			s.reports++
			if r.version != s.reports {
				die("pipeline: report %d is for version %d", s.reports, r.version)
			}
			if r.lag > s.maxLag {
				s.maxLag = r.lag
			}
			s.last = r
		}
		got <- s
	}()

	res := runPipeline(b, spots, ticks, scale, int(quotesPerSnapshot), int(chunk), reports)
	s := <-got

	if s.reports != res.snapshots || s.last.quotes != res.quotes || s.last.agg.valuations != uint64(b.size()) {
		die("pipeline: %d reports for %d snapshots; the last covers %d quotes of %d and %d valuations of %d",
			s.reports, res.snapshots, s.last.quotes, res.quotes, s.last.agg.valuations, b.size())
	}
	perS := float64(res.valuations) / res.seconds
	fmt.Fprintf(os.Stderr, "gobench: pipeline: %d options, %d quotes, %d snapshots, %d workers, %.3f s, max lag %d\n",
		b.size(), res.quotes, res.snapshots, res.workers, res.seconds, s.maxLag)
	fmt.Printf("RESULT pipeline_vps %.1f valuations/s\n", perS)
	fmt.Printf("RESULT pipeline_vps_core %.1f valuations/s\n", perS/float64(res.workers))
	t := s.last.agg.total
	fmt.Printf("DIGEST %d %.12e %.12e %.12e %.12e\n", s.last.version, t.value, t.delta, t.gamma, t.vega)
}
