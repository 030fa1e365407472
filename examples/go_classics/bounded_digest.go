// bounded_digest: digest every file in a directory tree with a fixed number of goroutines, as
// in the Go blog's "Go Concurrency Patterns: Pipelines and cancellation" (bounded.go).
//
// A walker goroutine sends the path of every regular file down a channel; a fixed number of
// digester goroutines read the files and send their digests to main; closing done makes every
// stage give up, so DigestAll can return at its first error without leaking goroutines.
//
// The blog uses MD5; this version uses FNV-1a (64 bits), written out so that the C++ port
// computes the same digest. Without an argument the program digests a tree it first creates in
// a temporary directory (file sizes and contents from a seeded xorshift generator), then removes;
// with an argument, it digests that directory. Paths are printed sorted, relative to the root.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// fnv1a64 is the 64-bit FNV-1a hash of data.
func fnv1a64(data []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, b := range data {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return h
}

// walkFiles starts a goroutine to walk the directory tree at root and send the path of each
// regular file on the string channel. It sends the result of the walk on the error channel.
// If done is closed, walkFiles abandons its work.
func walkFiles(done <-chan struct{}, root string) (<-chan string, <-chan error) {
	paths := make(chan string)
	errc := make(chan error, 1)
	go func() {
		// Close the paths channel after Walk returns.
		defer close(paths)
		// No select needed for this send, since errc is buffered.
		errc <- filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				return nil
			}
			select {
			case paths <- path:
			case <-done:
				return errors.New("walk canceled")
			}
			return nil
		})
	}()
	return paths, errc
}

// A result is the digest of a file (or the error reading it).
type result struct {
	path string
	sum  uint64
	err  error
}

// digester reads path names from paths and sends digests of the corresponding files on c
// until either paths or done is closed.
func digester(done <-chan struct{}, paths <-chan string, c chan<- result) {
	for path := range paths {
		data, err := os.ReadFile(path)
		select {
		case c <- result{path, fnv1a64(data), err}:
		case <-done:
			return
		}
	}
}

// DigestAll reads all the files in the file tree rooted at root and returns a map from file
// path to the digest of the file's contents. If the directory walk fails or any read operation
// fails, DigestAll returns an error. In that case DigestAll does not wait for inflight read
// operations to complete.
func DigestAll(root string) (map[string]uint64, error) {
	// DigestAll closes the done channel when it returns; it may do so before receiving all the
	// values from c and errc.
	done := make(chan struct{})
	defer close(done)

	paths, errc := walkFiles(done, root)

	// Start a fixed number of goroutines to read and digest files.
	c := make(chan result)
	var wg sync.WaitGroup
	const numDigesters = 4
	wg.Add(numDigesters)
	for i := 0; i < numDigesters; i++ {
		go func() {
			digester(done, paths, c)
			wg.Done()
		}()
	}
	go func() {
		wg.Wait()
		close(c)
	}()

	m := make(map[string]uint64)
	for r := range c {
		if r.err != nil {
			return nil, r.err
		}
		m[r.path] = r.sum
	}
	// Check whether the Walk failed.
	if err := <-errc; err != nil {
		return nil, err
	}
	return m, nil
}

// xorshift is Marsaglia's xorshift64 generator: the same sequence in the Go and C++ versions.
type xorshift uint64

func (x *xorshift) next() uint64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return uint64(*x)
}

// makeTree fills root with 4 directories of 3 subdirectories each, holding 0 to 4 files of 0 to
// 4999 pseudo-random bytes.
func makeTree(root string) error {
	rng := xorshift(1975)
	for d := 0; d < 4; d++ {
		for s := 0; s < 3; s++ {
			dir := filepath.Join(root, fmt.Sprintf("dir%d", d), fmt.Sprintf("sub%d", s))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			nfiles := int(rng.next() % 5)
			for f := 0; f < nfiles; f++ {
				data := make([]byte, rng.next()%5000)
				for i := range data {
					data[i] = byte(rng.next())
				}
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file%d.dat", f)), data, 0o644); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func main() {
	var root string
	if len(os.Args) > 1 {
		root = os.Args[1]
	} else {
		tmp, err := os.MkdirTemp("", "bounded_digest")
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		defer os.RemoveAll(tmp)
		if err := makeTree(tmp); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		root = tmp
	}

	m, err := DigestAll(root)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	var paths []string
	for path := range m {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		rel, _ := filepath.Rel(root, path)
		fmt.Printf("%016x  %s\n", m[path], rel)
	}
	fmt.Printf("%d files\n", len(paths))

	_, err = DigestAll(filepath.Join(root, "missing"))
	fmt.Printf("digesting a missing directory fails: %t\n", err != nil)
}
