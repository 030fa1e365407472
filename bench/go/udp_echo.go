package main

// udp_echo (gobench udp_echo [rounds]): goro_bench's twin is bench/goro/udp_echo.cpp. One server
// *net.UDPConn on 127.0.0.1:0 with one goroutine: ReadFrom a datagram, WriteTo its sender. 16
// client goroutines, each net.DialUDP once, then n round trips: Write 64 bytes, Read the echo,
// check it, record the latency. The clock runs from when every client has its socket (a closed
// channel starts them together) until the last is done; a 2 s read deadline turns a lost
// datagram into a failed run.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"sync"
	"time"
)

const (
	udpClients = 16
	udpSize    = 64
)

func benchUDPEcho(rounds int) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		die("udp_echo: listen: %v", err)
	}
	addr := srv.LocalAddr().(*net.UDPAddr)
	served := make(chan struct{})
	go func() {
		defer close(served)
		buf := make([]byte, 2048)
		for {
			n, from, err := srv.ReadFrom(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				die("udp_echo: server read: %v", err)
			}
			if _, err := srv.WriteTo(buf[:n], from); err != nil {
				die("udp_echo: server write: %v", err)
			}
		}
	}()
	lat := make([]int64, udpClients*rounds)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(udpClients)
	done.Add(udpClients)
	for i := 0; i < udpClients; i++ {
		go func(i int) {
			defer done.Done()
			c, err := net.DialUDP("udp", nil, addr)
			if err != nil {
				die("udp_echo: dial %v: %v", addr, err)
			}
			defer c.Close()
			ready.Done()
			<-start
			out, in := bytes.Repeat([]byte{byte('a' + i%26)}, udpSize), make([]byte, udpSize)
			my := lat[i*rounds : (i+1)*rounds]
			for r := 0; r < rounds; r++ {
				binary.LittleEndian.PutUint64(out, uint64(i)<<40|uint64(r))
				t0 := time.Now()
				c.SetReadDeadline(t0.Add(2 * time.Second))
				if _, err := c.Write(out); err != nil {
					die("udp_echo: client write: %v", err)
				}
				n, err := c.Read(in)
				if err != nil {
					die("udp_echo: client read (a lost datagram?): %v", err)
				}
				my[r] = int64(time.Since(t0))
				if n != udpSize || !bytes.Equal(in, out) {
					die("udp_echo: client %d, round %d: the echo differs", i, r)
				}
			}
		}(i)
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	el := time.Since(t0)
	srv.Close()
	<-served
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	total := float64(udpClients) * float64(rounds)
	fmt.Fprintf(os.Stderr, "gobench: udp_echo: %.0f round trips in %.1f ms, latency max %.1f us\n",
		total, float64(el.Nanoseconds())/1e6, float64(lat[len(lat)-1])/1e3)
	fmt.Printf("RESULT udp_rps %.3f req/s\n", total/el.Seconds())
	fmt.Printf("RESULT udp_p50_us %.3f us\n", float64(percentile(lat, 50))/1e3)
	fmt.Printf("RESULT udp_p99_us %.3f us\n", float64(percentile(lat, 99))/1e3)
}
