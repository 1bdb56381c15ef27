// Command gotask is the smallest useful Go task: its handlers do nearly
// nothing, so that delivering a message to it measures what the SDK and
// the host cost. sdkbench compares it with ctask, its C twin.
package main

import canopy "github.com/canopy-fleet/canopy/sdk/go"

var n int

func init() {
	canopy.OnMessage(func(topic string, data []byte) error {
		n += len(topic) + len(data)
		return nil
	})
	canopy.OnTick(func() error { return nil })
}

func main() {}
