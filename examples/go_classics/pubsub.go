// pubsub: a publish/subscribe broker. One goroutine owns the subscriptions; Subscribe,
// Unsubscribe, Publish and Stop are requests sent to it on channels, served one at a time, so
// a request made after another (by the same goroutine) is served after it. Each subscriber
// reads its own channel until the broker closes it (on Unsubscribe, or on Stop), then reports
// what it got. The topics of the messages come from a seeded xorshift generator.
package main

import (
	"fmt"
	"sort"
	"strings"
)

type subscription struct {
	topics []string
	ch     chan string
}

type message struct {
	topic, text string
}

type Broker struct {
	subscribe   chan subscription
	unsubscribe chan (<-chan string)
	publish     chan message
	stop        chan struct{}
	stopped     chan struct{}
}

func NewBroker() *Broker {
	b := &Broker{
		subscribe:   make(chan subscription),
		unsubscribe: make(chan (<-chan string)),
		publish:     make(chan message),
		stop:        make(chan struct{}),
		stopped:     make(chan struct{}),
	}
	go b.run()
	return b
}

func (b *Broker) run() {
	var subs []subscription
	for {
		select {
		case s := <-b.subscribe:
			subs = append(subs, s)
		case ch := <-b.unsubscribe:
			for i, s := range subs {
				if s.ch == ch {
					subs = append(subs[:i], subs[i+1:]...)
					close(s.ch)
					break
				}
			}
		case m := <-b.publish:
			for _, s := range subs {
				for _, t := range s.topics {
					if t == m.topic {
						s.ch <- m.topic + ":" + m.text
					}
				}
			}
		case <-b.stop:
			for _, s := range subs {
				close(s.ch)
			}
			close(b.stopped)
			return
		}
	}
}

// Subscribe returns a channel that receives the messages published on any of topics.
func (b *Broker) Subscribe(topics ...string) <-chan string {
	ch := make(chan string, 8)
	b.subscribe <- subscription{topics, ch}
	return ch
}

// Unsubscribe stops the messages to ch and closes it.
func (b *Broker) Unsubscribe(ch <-chan string) {
	b.unsubscribe <- ch
}

func (b *Broker) Publish(topic, text string) {
	b.publish <- message{topic, text}
}

// Stop closes every subscriber's channel and waits for the broker to end.
func (b *Broker) Stop() {
	close(b.stop)
	<-b.stopped
}

func reader(name string, ch <-chan string, reports chan<- string) {
	var got []string
	for m := range ch {
		got = append(got, m)
	}
	reports <- fmt.Sprintf("%-5s got %2d: %s", name, len(got), strings.Join(got, " "))
}

// xorshift is Marsaglia's xorshift64 generator: the same sequence in the Go and C++ versions.
type xorshift uint64

func (x *xorshift) next() uint64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return uint64(*x)
}

func main() {
	b := NewBroker()
	reports := make(chan string)
	subscribers := []struct {
		name   string
		topics []string
	}{
		{"alice", []string{"go"}},
		{"bob", []string{"go", "rust"}},
		{"carol", []string{"c++"}},
		{"dave", []string{"c++", "go", "rust"}},
	}
	chans := make(map[string]<-chan string)
	for _, s := range subscribers {
		ch := b.Subscribe(s.topics...)
		chans[s.name] = ch
		go reader(s.name, ch, reports)
	}

	rng := xorshift(42)
	topics := []string{"go", "rust", "c++"}
	for i := 1; i <= 16; i++ {
		if i == 9 {
			b.Unsubscribe(chans["bob"])
			fmt.Println("bob unsubscribes after message 8")
		}
		b.Publish(topics[rng.next()%3], fmt.Sprintf("m%d", i))
	}
	b.Stop()

	var all []string
	for range subscribers {
		all = append(all, <-reports)
	}
	sort.Strings(all)
	for _, r := range all {
		fmt.Println(r)
	}
}
