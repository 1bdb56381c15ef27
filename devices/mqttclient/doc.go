// Package mqttclient connects Canopy to an MQTT broker — the embedded one or
// an external one such as mosquitto — through paho.mqtt.golang.
//
// A Client reconnects on its own, remembers its subscriptions and makes them
// again after every reconnect (a clean session forgets them on the broker),
// and never runs user handlers on paho's router goroutine: each message is
// copied and handed to the client's dispatcher goroutine through a bounded
// queue, so a handler may itself publish and wait without deadlocking paho.
package mqttclient
