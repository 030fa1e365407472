// fanout: the Go peer of the fanout comparison (bench/fanout/README.md is the specification that
// every peer follows).
//
//	GOMAXPROCS=2 gobench fanout FEED_FILE UNIVERSE_FILE CONSUMERS QUOTES
//
// The main goroutine is the feed handler: it reads the feed in 64 KiB reads into its own buffer,
// frames each message (BeginString, BodyLength, CheckSum verified), parses the body once into an
// immutable *FeedQuote and sends that pointer on every consumer's channel, in consumer order.
// One goroutine per consumer computes its statistic and hands its digest back.
//
// Written the way a Go programmer tuning a feed handler would, without leaving the standard
// library or the spec: the feed goes through no bufio.Scanner or strings.Split (they copy or
// allocate per message) but a byte-scanning parser over the read buffer; per message it
// allocates the quote (the pointer every consumer shares, the counterpart of goro's
// make_shared) and the two small price strings strconv.ParseFloat takes (see parseQuote).
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"sync"
	"time"
)

const (
	fanoutQueueCap = 1024      // per consumer channel, as the spec bounds every peer's queue
	feedReadSize   = 64 * 1024 // one read() of the feed
	// The largest BodyLength accepted (the goro peer's framer has the same limit). It bounds the
	// buffer: what is left unconsumed before a read is less than one whole message.
	feedMaxBody   = 64 * 1024
	fanoutSectors = 11
	volWindow     = 100
	soh           = 0x01
)

// FeedQuote is parsed once by the feed handler and shared, read-only, by every consumer.
// (main.go's chan_fanout already owns the name Quote.)
type FeedQuote struct {
	Index            uint32 // universe index of the symbol
	Bid, Ask         float64
	BidSize, AskSize int64
	Seq              uint64
}

type fanoutUniverse struct {
	sector  []int
	weight  []float64
	initial []float64
	index   map[string]uint32
}

func fanoutFail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "gobench fanout: "+format+"\n", a...)
	os.Exit(1)
}

// readUniverse reads "SYMBOL,SECTOR,WEIGHT,INITIAL_PRICE" lines (before the clock starts, so it
// is written for clarity, not speed).
func readUniverse(path string) *fanoutUniverse {
	f, err := os.Open(path)
	if err != nil {
		fanoutFail("%v", err)
	}
	defer f.Close()
	u := &fanoutUniverse{index: make(map[string]uint32)}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		var fields [4][]byte
		rest := sc.Bytes()
		for k := 0; k < 4; k++ {
			c := bytes.IndexByte(rest, ',')
			if k == 3 {
				if c >= 0 {
					fanoutFail("%s:%d: expected 4 fields", path, line)
				}
				c = len(rest)
			} else if c < 0 {
				fanoutFail("%s:%d: expected 4 fields", path, line)
			}
			fields[k] = rest[:c]
			if k < 3 {
				rest = rest[c+1:]
			}
		}
		sym := string(fields[0])
		if sym == "" {
			fanoutFail("%s:%d: empty symbol", path, line)
		}
		if _, dup := u.index[sym]; dup {
			fanoutFail("%s:%d: symbol %s appears twice", path, line, sym)
		}
		sec, err := strconv.Atoi(string(fields[1]))
		if err != nil || sec < 0 || sec >= fanoutSectors {
			fanoutFail("%s:%d: bad sector %q", path, line, fields[1])
		}
		w, err := strconv.ParseFloat(string(fields[2]), 64)
		if err != nil {
			fanoutFail("%s:%d: bad weight %q", path, line, fields[2])
		}
		p, err := strconv.ParseFloat(string(fields[3]), 64)
		if err != nil || p <= 0 {
			fanoutFail("%s:%d: bad initial price %q", path, line, fields[3])
		}
		u.index[sym] = uint32(len(u.sector))
		u.sector = append(u.sector, sec)
		u.weight = append(u.weight, w)
		u.initial = append(u.initial, p)
	}
	if err := sc.Err(); err != nil {
		fanoutFail("%s: %v", path, err)
	}
	if len(u.sector) == 0 {
		fanoutFail("%s: no instruments", path)
	}
	return u
}

// ---- the three consumer kinds, with the operations in the order the spec writes them ----------
//
// The explicit float64(...) conversions around products keep the Go compiler from fusing a
// multiply and an add into an FMA (the spec allows it to, and it does on arm64): every peer must
// compute the same doubles.

func securityConsumer(ch <-chan *FeedQuote, n int) float64 {
	ewma := make([]float64, n)
	spread := make([]float64, n)
	count := make([]uint64, n)
	for q := range ch {
		i := q.Index
		mid := (q.Bid + q.Ask) / 2
		spread[i] = q.Ask - q.Bid
		if count[i] == 0 {
			ewma[i] = mid
		} else {
			ewma[i] = float64(0.05*mid) + float64(0.95*ewma[i])
		}
		count[i]++
	}
	d := 0.0
	for i := range ewma {
		if count[i] != 0 {
			d += ewma[i] + spread[i]
		}
	}
	return d
}

type volRing struct {
	r          [volWindow]float64
	n, head    int
	sum, sumsq float64
}

func sectorConsumer(ch <-chan *FeedQuote, u *fanoutUniverse) float64 {
	prev := make([]float64, len(u.sector)) // 0: no quote yet (prices are positive)
	var rings [fanoutSectors]volRing
	for q := range ch {
		i := q.Index
		mid := (q.Bid + q.Ask) / 2
		if pv := prev[i]; pv != 0 {
			g := &rings[u.sector[i]]
			r := math.Log(mid / pv)
			if g.n == volWindow {
				o := g.r[g.head]
				g.sum -= o
				g.sumsq -= float64(o * o)
			} else {
				g.n++
			}
			g.r[g.head] = r
			g.head++
			if g.head == volWindow {
				g.head = 0
			}
			g.sum += r
			g.sumsq += float64(r * r)
		}
		prev[i] = mid
	}
	d := 0.0
	for s := range rings {
		g := &rings[s]
		if g.n < 2 {
			continue
		}
		n := float64(g.n)
		d += math.Sqrt(math.Max(0, (g.sumsq-float64(g.sum*g.sum)/n)/(n-1)))
	}
	return d
}

func indexConsumer(ch <-chan *FeedQuote, u *fanoutUniverse) float64 {
	last := make([]float64, len(u.initial))
	copy(last, u.initial)
	value := 100.0
	for q := range ch {
		i := q.Index
		mid := (q.Bid + q.Ask) / 2
		value += float64(float64(100*u.weight[i])*(mid-last[i])) / u.initial[i]
		last[i] = mid
	}
	return value
}

// ---- the feed ---------------------------------------------------------------------------------

// feedReader holds the unconsumed bytes buf[r:w] of the stream. fill() moves them to the front
// and appends one read of at most 64 KiB; since less than one whole message is ever left
// unconsumed, the buffer never needs more than a read plus the largest message.
type feedReader struct {
	f    *os.File
	buf  []byte
	r, w int
	eof  bool
}

const feedMaxMessage = len("8=FIX.4.4\x019=65536\x01") + feedMaxBody + len("10=000\x01")

func (fr *feedReader) fill() {
	if fr.r > 0 {
		fr.w = copy(fr.buf, fr.buf[fr.r:fr.w])
		fr.r = 0
	}
	n, err := fr.f.Read(fr.buf[fr.w : fr.w+feedReadSize])
	fr.w += n
	if err == io.EOF || (err == nil && n == 0) {
		fr.eof = true
	} else if err != nil {
		fanoutFail("reading the feed: %v", err)
	}
}

var feedHead = []byte("8=FIX.4.4\x019=")

// frameResult: 0 means more bytes are needed; otherwise the message occupies p[:total], its
// body (what BodyLength counts) p[bodyStart:bodyEnd].
//
// frame checks the envelope and the CheckSum of the message at the start of p. msg is the
// message number, for the error messages.
func frame(p []byte, msg uint64) (total, bodyStart, bodyEnd int) {
	n := len(p)
	hn := len(feedHead)
	if n < hn {
		if !bytes.Equal(p, feedHead[:n]) {
			fanoutFail("message %d: does not start with 8=FIX.4.4<SOH>9=", msg)
		}
		return 0, 0, 0
	}
	if !bytes.Equal(p[:hn], feedHead) {
		fanoutFail("message %d: does not start with 8=FIX.4.4<SOH>9=", msg)
	}
	// BodyLength: digits up to a SOH.
	i := hn
	length := 0
	for ; ; i++ {
		if i >= n {
			return 0, 0, 0
		}
		c := p[i]
		if c == soh {
			break
		}
		if c < '0' || c > '9' {
			fanoutFail("message %d: BodyLength (9) is not a number", msg)
		}
		if i-hn == 5 { // 65536 has five: more (leading zeros) would outgrow feedMaxMessage
			fanoutFail("message %d: BodyLength (9) has too many digits", msg)
		}
		length = length*10 + int(c-'0')
		if length > feedMaxBody {
			fanoutFail("message %d: BodyLength (9) exceeds %d", msg, feedMaxBody)
		}
	}
	if i == hn || length == 0 {
		fanoutFail("message %d: BodyLength (9) is empty or zero", msg)
	}
	bodyStart = i + 1
	bodyEnd = bodyStart + length // the trailer "10=NNN<SOH>" starts here
	total = bodyEnd + 7
	if n < total {
		return 0, 0, 0
	}
	t := p[bodyEnd:total]
	if p[bodyEnd-1] != soh || t[0] != '1' || t[1] != '0' || t[2] != '=' || t[6] != soh {
		fanoutFail("message %d: no CheckSum (10=NNN<SOH>) where BodyLength (9) says the body ends", msg)
	}
	if t[3] < '0' || t[3] > '9' || t[4] < '0' || t[4] > '9' || t[5] < '0' || t[5] > '9' {
		fanoutFail("message %d: CheckSum (10) is not three digits", msg)
	}
	want := uint(t[3]-'0')*100 + uint(t[4]-'0')*10 + uint(t[5]-'0')
	// Every byte before "10=": a plain loop, four accumulators so that the adds do not wait on
	// each other (the sum of ~150 bytes cannot overflow a uint).
	var s0, s1, s2, s3 uint
	b := p[:bodyEnd]
	for len(b) >= 4 {
		s0 += uint(b[0])
		s1 += uint(b[1])
		s2 += uint(b[2])
		s3 += uint(b[3])
		b = b[4:]
	}
	for _, c := range b {
		s0 += uint(c)
	}
	if got := (s0 + s1 + s2 + s3) % 256; got != want {
		fanoutFail("message %d: CheckSum is %03d, the bytes sum to %03d", msg, want, got)
	}
	return total, bodyStart, bodyEnd
}

// parseUint: a non-negative decimal without sign, as FIX writes sizes and sequence numbers.
func parseUint(v []byte) (uint64, bool) {
	if len(v) == 0 || len(v) > 19 {
		return 0, false
	}
	var x uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		x = x*10 + uint64(c-'0')
	}
	return x, true
}

// parseQuote reads the body's tag=value fields and builds the quote. Prices go through
// strconv.ParseFloat (correctly rounded, as the spec requires). The compiler elides the copy in
// the map lookup's string(v); ParseFloat's string(v) is a tiny allocation (its error value may
// keep the string). Viewing the bytes as a string through unsafe instead was measured: no
// difference within the noise (1M quotes, 1 consumer, GOMAXPROCS=1), so the safe form stays.
func parseQuote(body []byte, u *fanoutUniverse, msg uint64) *FeedQuote {
	const (
		hasType = 1 << iota
		hasSym
		hasBid
		hasAsk
		hasBidSize
		hasAskSize
		hasSeq
		hasAll = hasType | hasSym | hasBid | hasAsk | hasBidSize | hasAskSize | hasSeq
	)
	q := &FeedQuote{}
	seen := 0
	for len(body) > 0 {
		tag := 0
		i := 0
		for ; i < len(body) && body[i] != '='; i++ {
			c := body[i]
			if c < '0' || c > '9' || i >= 9 {
				fanoutFail("message %d: a field's tag is not a number", msg)
			}
			tag = tag*10 + int(c-'0')
		}
		if i == 0 || i == len(body) {
			fanoutFail("message %d: a field without a tag or without '='", msg)
		}
		rest := body[i+1:]
		e := bytes.IndexByte(rest, soh) // the body ends with a SOH (frame checked it)
		v := rest[:e]
		body = rest[e+1:]
		switch tag {
		case 35:
			if len(v) != 1 || v[0] != 'S' {
				fanoutFail("message %d: MsgType (35) is %q, not S", msg, v)
			}
			seen |= hasType
		case 55:
			idx, ok := u.index[string(v)]
			if !ok {
				fanoutFail("message %d: unknown symbol %q", msg, v)
			}
			q.Index = idx
			seen |= hasSym
		case 132, 133:
			x, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				fanoutFail("message %d: bad price %q in tag %d", msg, v, tag)
			}
			if tag == 132 {
				q.Bid = x
				seen |= hasBid
			} else {
				q.Ask = x
				seen |= hasAsk
			}
		case 134, 135:
			x, ok := parseUint(v)
			if !ok || x > math.MaxInt64 {
				fanoutFail("message %d: bad size %q in tag %d", msg, v, tag)
			}
			if tag == 134 {
				q.BidSize = int64(x)
				seen |= hasBidSize
			} else {
				q.AskSize = int64(x)
				seen |= hasAskSize
			}
		case 34:
			x, ok := parseUint(v)
			if !ok {
				fanoutFail("message %d: bad MsgSeqNum %q", msg, v)
			}
			q.Seq = x
			seen |= hasSeq
		}
	}
	if seen != hasAll {
		fanoutFail("message %d: a Quote needs MsgType 35=S, MsgSeqNum, Symbol, BidPx, OfferPx, BidSize and OfferSize", msg)
	}
	return q
}

func benchFanout(feedPath, universePath string, consumers int, quotes uint64) {
	u := readUniverse(universePath)

	// One channel and one goroutine per consumer. Capacity 1024: the spec's bound, the same for
	// every peer; with it the feed handler rarely blocks on a consumer that is briefly behind.
	chans := make([]chan *FeedQuote, consumers)
	digests := make([]float64, consumers)
	var ready, done sync.WaitGroup
	ready.Add(consumers)
	done.Add(consumers)
	for k := range chans {
		chans[k] = make(chan *FeedQuote, fanoutQueueCap)
		go func(k int, ch <-chan *FeedQuote) {
			ready.Done()
			switch k % 3 {
			case 0:
				digests[k] = securityConsumer(ch, len(u.sector))
			case 1:
				digests[k] = sectorConsumer(ch, u)
			default:
				digests[k] = indexConsumer(ch, u)
			}
			done.Done() // publishes digests[k] to the Wait below
		}(k, chans[k])
	}
	ready.Wait()

	f, err := os.Open(feedPath)
	if err != nil {
		fanoutFail("%v", err)
	}
	defer f.Close()
	fr := &feedReader{f: f, buf: make([]byte, feedReadSize+feedMaxMessage)}

	start := time.Now()
	var taken uint64
	for taken < quotes {
		total, b, e := frame(fr.buf[fr.r:fr.w], taken+1)
		if total == 0 {
			if fr.eof {
				if fr.r < fr.w {
					fanoutFail("message %d: the feed ends inside it", taken+1)
				}
				fanoutFail("the feed holds %d quotes, fewer than %d", taken, quotes)
			}
			fr.fill()
			continue
		}
		p := fr.buf[fr.r : fr.r+total]
		q := parseQuote(p[b:e], u, taken+1)
		fr.r += total
		for _, ch := range chans {
			ch <- q // blocks when that consumer is 1024 quotes behind: no drops
		}
		taken++
	}
	for _, ch := range chans {
		close(ch)
	}
	done.Wait()
	el := time.Since(start)

	fmt.Printf("RESULT fanout_qps %.1f quotes/s\n", float64(quotes)/el.Seconds())
	kinds := [3]string{"security", "sector", "index"}
	for k, d := range digests {
		fmt.Printf("DIGEST %d %s %.12e\n", k, kinds[k%3], d)
	}
}
