// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// The seed's goroutine leak (shared/seed/000_92d4b5d7a345c85f.txt), driven at
// a known rate, beside flat pools of idle goroutines parked in known ways, so
// parkwatch's goroutine reader can be checked against net/http/pprof.
//
//	goseed -leaks 200 -rate 50 -receivers 10 -sleepers 5 -mutex 3 -pprof 127.0.0.1:0
//
// prints "PPROF http://127.0.0.1:PORT" (with -pprof), "READY pid=PID" once
// the pools are parked, then "LEAKED_DONE N" once N requests have timed out
// and every leaked goroutine sits on its channel send. It then waits for a
// signal.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type Result struct {
	Body []byte
}

var (
	fetchTime time.Duration
	fetched   int64
)

// fetch is much slower than the request timeout, so every request times out
// even when timers fire late on a loaded host.
func fetch() Result {
	time.Sleep(fetchTime)
	atomic.AddInt64(&fetched, 1)
	return Result{Body: make([]byte, 1024)}
}

// handle is the seed's handler, verbatim.
func handle(ctx context.Context) (Result, error) {
	ch := make(chan Result) // unbuffered
	go func() {
		ch <- fetch() // blocks until someone receives
	}()
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return Result{}, ctx.Err() // timeout: we leave
	}
}

func receiver(ch chan int, wg *sync.WaitGroup) {
	wg.Done()
	<-ch
}

func sleeper(wg *sync.WaitGroup) {
	wg.Done()
	time.Sleep(time.Hour)
}

func mutexWaiter(mu *sync.Mutex, wg *sync.WaitGroup) {
	wg.Done()
	mu.Lock()
	mu.Unlock()
}

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "goseed: "+format+"\n", a...)
	os.Exit(2)
}

func main() {
	rate := flag.Float64("rate", 50, "timed-out requests per second")
	leaks := flag.Int("leaks", 0, "requests to send, then stop (0: none)")
	timeout := flag.Duration("timeout", 10*time.Millisecond, "request timeout")
	receivers := flag.Int("receivers", 0, "goroutines blocked on a channel receive")
	sleepers := flag.Int("sleepers", 0, "goroutines in time.Sleep(1h)")
	mutex := flag.Int("mutex", 0, "goroutines blocked on a held sync.Mutex")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this address (host:port)")
	churn := flag.Int("churn", 0, "goroutines that keep starting short-lived goroutines")
	burst := flag.Bool("burst", false, "send the -leaks requests all at once, not at -rate")
	serveW := flag.Int("serve", 0, "after the leaks: client/handler goroutine pairs doing small requests (0: none)")
	report := flag.Duration("report", time.Second, "with -serve: print a RATE line this often")
	work := flag.Int("work", 200, "with -serve: CPU work per request (xorshift rounds)")
	flag.Parse()
	if *serveW < 0 || *report <= 0 || *work < 0 {
		die("bad arguments")
	}
	if *rate <= 0 || *leaks < 0 || *timeout <= 0 || *receivers < 0 || *sleepers < 0 || *mutex < 0 ||
		*churn < 0 {
		die("bad arguments")
	}
	fetchTime = 5**timeout + time.Second

	// Ready means parked, not just started: each pool member checks in just
	// before it blocks, and the pause below lets the last ones get there.
	var wg sync.WaitGroup
	never := make(chan int)
	for i := 0; i < *receivers; i++ {
		wg.Add(1)
		go receiver(never, &wg)
	}
	for i := 0; i < *sleepers; i++ {
		wg.Add(1)
		go sleeper(&wg)
	}
	var mu sync.Mutex
	mu.Lock()
	for i := 0; i < *mutex; i++ {
		wg.Add(1)
		go mutexWaiter(&mu, &wg)
	}
	wg.Wait()

	if *pprofAddr != "" {
		ln, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			die("listen %s: %v", *pprofAddr, err)
		}
		fmt.Printf("PPROF http://%s\n", ln.Addr())
		go func() {
			die("pprof server: %v", http.Serve(ln, nil))
		}()
	}
	// Churn: goroutines are born, park for a moment and die all the time, so
	// a reader of the goroutine list races with the runtime.
	for i := 0; i < *churn; i++ {
		go func() {
			for {
				done := make(chan struct{})
				for j := 0; j < 64; j++ {
					go func() { <-done }()
				}
				time.Sleep(time.Millisecond)
				close(done)
			}
		}()
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond)
	fmt.Printf("READY pid=%d\n", os.Getpid())

	if *leaks > 0 {
		var timedOut int64
		var reqs sync.WaitGroup
		tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
		for i := 0; i < *leaks; i++ {
			if !*burst {
				<-tick.C
			}
			reqs.Add(1)
			go func() {
				defer reqs.Done()
				ctx, cancel := context.WithTimeout(context.Background(), *timeout)
				defer cancel()
				if _, err := handle(ctx); err != nil {
					atomic.AddInt64(&timedOut, 1)
				}
			}()
		}
		tick.Stop()
		reqs.Wait()
		// Done means every leaked goroutine finished fetch and is parked on its send.
		for atomic.LoadInt64(&fetched) < int64(*leaks) {
			time.Sleep(fetchTime)
		}
		time.Sleep(100 * time.Millisecond)
		// The GC stamps g.waitsince of the goroutines it finds blocked with
		// the previous cycle's mark termination time (mgcmark.go markroot,
		// mgc.go gcMark): the second cycle gives readers something to check.
		runtime.GC()
		runtime.GC()
		fmt.Printf("LEAKED_DONE %d\n", timedOut)
	}
	if *serveW > 0 {
		serve(*serveW, *work, *report)
	}
	<-sigs
	// Keep the mutex waiters' mutex reachable and held until the end.
	mu.Unlock()
}

// For the benchmarks (tests/bench/go_bench.sh): -burst sends the -leaks
// requests all at once instead of at -rate (a ticker cannot go much above
// 1000/s), and -serve W then keeps W client/handler goroutine pairs busy
// (see serve below), printing "SERVING ..." and a "RATE ..." line every
// -report. Without these flags nothing below runs.

// A request of the -serve workload: a little CPU work for a handler, answered
// on the client's own reply channel.
type serveReq struct {
	x     uint64
	reply chan uint64
}

// Per-client request counters, each on its own cache line.
type serveCount struct {
	n uint64
	_ [56]byte
}

var serveSink uint64

// spin is the handler's CPU work: n rounds of xorshift64.
func spin(x uint64, n int) uint64 {
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// serve starts w clients and w handlers. Each client sends a request on one
// shared unbuffered channel, a handler takes it, spins, and answers on the
// client's unbuffered reply channel: two goroutine hand-offs (park, ready,
// switch) and some CPU per request, no allocation (so no GC). A reporter
// prints the cumulative count with a timestamp every interval:
//
//	RATE t=UNIX_SECONDS total=REQUESTS rate=REQUESTS_PER_S
func serve(w, work int, every time.Duration) {
	reqs := make(chan serveReq)
	counts := make([]serveCount, w)
	for i := 0; i < w; i++ {
		go func() {
			for r := range reqs {
				r.reply <- spin(r.x, work)
			}
		}()
	}
	for i := 0; i < w; i++ {
		c := &counts[i]
		go func(seed uint64) {
			reply := make(chan uint64)
			x := seed
			for {
				reqs <- serveReq{x: x, reply: reply}
				x = <-reply
				atomic.AddUint64(&c.n, 1)
				if x == 0 { // never: keeps spin's result alive
					atomic.StoreUint64(&serveSink, x)
					x = seed
				}
			}
		}(uint64(i)*0x9e3779b97f4a7c15 | 1)
	}
	total := func() uint64 {
		var s uint64
		for i := range counts {
			s += atomic.LoadUint64(&counts[i].n)
		}
		return s
	}
	fmt.Printf("SERVING workers=%d work=%d report=%s gomaxprocs=%d\n", w, work, every,
		runtime.GOMAXPROCS(0))
	go func() {
		t0, n0 := time.Now(), total()
		tick := time.NewTicker(every)
		for t := range tick.C {
			n := total()
			t = time.Now()
			fmt.Printf("RATE t=%.6f total=%d rate=%.0f\n", float64(t.UnixNano())/1e9, n,
				float64(n-n0)/t.Sub(t0).Seconds())
			t0, n0 = t, n
		}
	}()
}
