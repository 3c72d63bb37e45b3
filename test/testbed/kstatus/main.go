// kstatus: prints what sigs.k8s.io/cli-utils' kstatus (the library Flux, kpt and `kubectl apply
// --prune` health checks build on) computes for one object, read as JSON from stdin. For the
// tests (test/helpers/kstatus.ts); built once per cli-utils version by test/testbed/build/build.sh.
//
// Output, one JSON line:
//
//	status:   status.Compute(obj): InProgress, Current, Failed, Terminating, ...
//	message:  its message
//	standard: status.Compute of the object without its Ready condition, i.e. the verdict of
//	          kstatus' standard conditions alone (Reconciling, Stalled, observedGeneration;
//	          generic.go checkGenericProperties), without the Ready fallback Compute adds for
//	          resources that use none of them.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kjson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var obj map[string]interface{}
	// kjson: integers as int64, as kstatus reads metadata.generation.
	if err := kjson.Unmarshal(in, &obj); err != nil {
		fail(err)
	}
	u := &unstructured.Unstructured{Object: obj}
	res, err := status.Compute(u)
	if err != nil {
		fail(err)
	}
	withoutReady := u.DeepCopy()
	if conds, found, _ := unstructured.NestedSlice(withoutReady.Object, "status", "conditions"); found {
		kept := make([]interface{}, 0, len(conds))
		for _, c := range conds {
			if m, ok := c.(map[string]interface{}); ok && m["type"] == "Ready" {
				continue
			}
			kept = append(kept, c)
		}
		if err := unstructured.SetNestedSlice(withoutReady.Object, kept, "status", "conditions"); err != nil {
			fail(err)
		}
	}
	std, err := status.Compute(withoutReady)
	if err != nil {
		fail(err)
	}
	out, _ := json.Marshal(map[string]string{"status": string(res.Status), "message": res.Message, "standard": string(std.Status)})
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
