// Command faultproxy runs the compatibility suite's faulty proxy on its own:
// it forwards -listen to -target and loses record batches in Fetch responses
// (and optionally Produce responses); see package compat/faultproxy. The
// broker behind it must advertise the -listen address.
package main

import (
	"flag"
	"log"
	"os"
	"os/signal"

	"github.com/samsa-streaming/samsa/compat/faultproxy"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9093", "address clients connect to")
	target := flag.String("target", "127.0.0.1:9092", "the broker")
	every := flag.Int("drop-fetch-every", 100, "drop the first data batch of each partition and then every Nth (0: none)")
	produce := flag.Int("drop-produce-responses", 0, "swallow this many Produce responses, closing the connection")
	flag.Parse()
	p, err := faultproxy.Listen(*listen, *target, faultproxy.Config{
		DropFetchEvery: *every, DropProduceResponses: *produce, Logf: log.Printf})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("faultproxy: %s -> %s", p.Addr(), *target)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	<-sig
	p.Close()
}
