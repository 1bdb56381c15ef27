// Package broker is Canopy's embedded MQTT broker, built on mochi-mqtt.
//
// A node runs one broker on loopback (or on the LAN for its sensors). With
// no users configured it allows anonymous access to every topic, which is
// what a single-node `canopy run` needs. Once users are configured it denies
// by default: a device authenticates with its username and password and may
// only publish and subscribe under its own topics ("devices/<username>/#")
// plus the filters its User entry grants explicitly.
package broker

// A note on refused publishes: MQTT 3.1.1 has no negative acknowledgement,
// so a QoS 0 publish to a forbidden topic is dropped silently and a QoS 1 or
// 2 publish gets the client disconnected (MQTT 5 clients get a PUBACK with
// "not authorized"). Either way it is counted in Stats.DeniedPublishes.
