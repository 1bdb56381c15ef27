package sensorsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Generator produces readings for a fixed set of sensors in turn. It is
// deterministic for a seed and not safe for concurrent use.
type Generator struct {
	rng     *rand.Rand
	sensors []sensorState
	next    int
	seq     uint64
}

// sensorState is one sensor's slowly changing truth.
type sensorState struct {
	name  string
	kind  Kind
	base  float64 // where it drifts around
	value float64
	burst int // remaining samples of a vibration burst
	phase float64
}

// NewGenerator returns a generator for n sensors named s0..s<n-1>, cycling
// through Kinds (s0 temperature, s1 humidity, ...).
func NewGenerator(n int, seed uint64) *Generator {
	g := &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for i := range n {
		k := Kinds[i%len(Kinds)]
		s := sensorState{name: fmt.Sprint("s", i), kind: k, phase: g.rng.Float64() * 2 * math.Pi}
		switch k {
		case Temperature:
			s.base = 18 + g.rng.Float64()*10
		case Humidity:
			s.base = 40 + g.rng.Float64()*20
		case Vibration:
			s.base = 0.02 + g.rng.Float64()*0.05
		case Power:
			s.base = 5 + g.rng.Float64()*200
		}
		s.value = s.base
		g.sensors = append(g.sensors, s)
	}
	return g
}

// Next returns the next sensor's reading stamped with now.
func (g *Generator) Next(now time.Time) Reading {
	s := &g.sensors[g.next]
	g.next = (g.next + 1) % len(g.sensors)
	g.seq++
	r := Reading{Sensor: s.name, Kind: s.kind, Unit: s.kind.Unit(), Seq: g.seq, TS: now.UnixMilli()}
	r.Value, r.Spike = g.sample(s)
	return r
}

// sample advances a sensor by one step.
func (g *Generator) sample(s *sensorState) (float64, bool) {
	n := g.rng.NormFloat64
	switch s.kind {
	case Temperature:
		// Mean-reverting random walk, plus a rare spike (a door opens, a
		// motor stalls) that does not persist.
		s.value += 0.02*(s.base-s.value) + 0.05*n()
		s.base += 0.001 * n() // the drift of the day
		if g.rng.Float64() < 0.005 {
			return s.value + 8 + 4*g.rng.Float64(), true
		}
		return s.value, false
	case Humidity:
		s.value += 0.05*(s.base-s.value) + 0.2*n()
		return math.Min(100, math.Max(0, s.value)), false
	case Vibration:
		if s.burst == 0 && g.rng.Float64() < 0.002 {
			s.burst = 20 + g.rng.IntN(50)
		}
		v := s.base * (1 + 0.2*n())
		if s.burst > 0 {
			s.burst--
			v += 0.5 + 0.3*g.rng.Float64()
			return math.Abs(v), true
		}
		return math.Abs(v), false
	default: // Power: a duty cycle between idle and load, with noise
		s.phase += 0.01
		duty := 0.5 + 0.5*math.Sin(s.phase)
		return math.Max(0, s.base*(0.3+0.7*duty)+2*n()), false
	}
}
