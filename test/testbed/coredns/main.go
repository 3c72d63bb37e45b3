// coredns: the testbed's cluster DNS. CoreDNS built from the Go module proxy with only the plugins
// a Kubernetes cluster's default Corefile uses (the way CoreDNS documents trimming plugin.cfg),
// so the build pulls no cloud-provider SDKs. Built once per CoreDNS version and this file's hash
// by test/testbed/build/build.sh; started by test/testbed/realnode.ts.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The order in which plugins see a query, as in CoreDNS' plugin.cfg.
var directives = []string{
	"errors",
	"log",
	"health",
	"ready",
	"cache",
	"loadbalance",
	"kubernetes",
}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
