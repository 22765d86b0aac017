// Command testsummary reads `go test -json` from standard input and prints
// one line per package and a closing "go tests: N passed, M failed, K
// skipped" line; with -failures it prints the output of the failed tests
// instead. scripts/test.sh uses it so that the suite ends with one count.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	failures := flag.Bool("failures", false, "print the output of failed tests and packages")
	flag.Parse()

	var passed, failed, skipped int
	pkgResult := map[string]string{}
	pkgElapsed := map[string]float64{}
	output := map[string][]string{} // package/test -> lines
	failedKeys := []string{}

	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Println(sc.Text()) // build errors and other plain lines
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			output[key] = append(output[key], e.Output)
		case "pass", "fail", "skip":
			if e.Test == "" {
				pkgResult[e.Package], pkgElapsed[e.Package] = e.Action, e.Elapsed
				if e.Action == "fail" {
					failedKeys = append(failedKeys, key)
				}
				continue
			}
			if strings.Contains(e.Test, "/") {
				continue // count top-level tests only
			}
			switch e.Action {
			case "pass":
				passed++
			case "fail":
				failed++
				failedKeys = append(failedKeys, key)
			case "skip":
				skipped++
			}
		}
	}
	if *failures {
		for _, k := range failedKeys {
			fmt.Print(strings.Join(output[k], ""))
		}
	} else {
		printPackages(pkgResult, pkgElapsed)
	}
	fmt.Printf("go tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 {
		os.Exit(1)
	}
}

// printPackages prints one line per package that has tests.
func printPackages(result map[string]string, elapsed map[string]float64) {
	pkgs := make([]string, 0, len(result))
	for p := range result {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, p := range pkgs {
		if result[p] == "skip" {
			continue // no test files
		}
		fmt.Printf("%-4s %-50s %.1fs\n", result[p], p, elapsed[p])
	}
}
