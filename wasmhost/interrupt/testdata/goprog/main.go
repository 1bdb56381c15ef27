// Command goprog is the Go program of the differential tests, built by the
// test with GOOS=wasip1 GOARCH=wasm. Its output is deterministic.
package main

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
)

// spins is what the "spin" mode counts, forever.
var spins int

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "spin" {
		for {
			spins++
		}
	}
	words := strings.Fields("the quick brown fox jumps over the lazy dog the end")
	counts := map[string]int{}
	for _, w := range words {
		counts[w]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("%s=%d ", k, counts[k])
	}
	fmt.Println()

	var wg sync.WaitGroup
	results := make([]int, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = fib(15 + i)
		}()
	}
	wg.Wait()
	fmt.Println("fibs:", results)

	ch := make(chan int)
	go func() {
		for i := 0; i < 1000; i++ {
			ch <- i
		}
		close(ch)
	}()
	sum := 0
	for v := range ch {
		sum += v
	}
	fmt.Println("channel sum:", sum)

	var sb strings.Builder
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&sb, "%.3f,", math.Sin(float64(i)))
	}
	fmt.Println(sb.String())

	big := make([][]byte, 0)
	for i := 0; i < 64; i++ {
		big = append(big, make([]byte, 64<<10))
	}
	fmt.Println("allocated:", len(big))
}
