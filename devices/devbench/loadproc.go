package devbench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"time"
)

// LoadGenEnv is the environment variable that makes a process run the
// pipeline's load generator (see LoadGenMain); it holds the run's
// configuration as JSON.
const LoadGenEnv = "CANOPY_DEVBENCH_LOADGEN"

// LoadGenMain runs the load generator when the process was started with
// LoadGenEnv set, and reports whether it did (the caller then exits, with
// status 1 if err is not nil). Programs that pass PipelineConfig.Spawn
// must call it first thing.
//
// Protocol on the pipes: once connected and subscribed the generator
// writes "ready\n" to stdout and waits for a line on stdin; it then runs
// and writes its Result as one JSON line to stdout.
func LoadGenMain() (bool, error) {
	v := os.Getenv(LoadGenEnv)
	if v == "" {
		return false, nil
	}
	var cfg loadConfig
	if err := json.Unmarshal([]byte(v), &cfg); err != nil {
		return true, fmt.Errorf("%s: %w", LoadGenEnv, err)
	}
	// A run allocates a few hundred MB at most (encoding, the latency
	// table); without collections the generator never pauses mid-run.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(1 << 30)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := bufio.NewReader(os.Stdin)
	res, err := runLoad(ctx, cfg, func() error {
		if _, err := os.Stdout.WriteString("ready\n"); err != nil {
			return err
		}
		_, err := in.ReadString('\n')
		return err
	})
	if err != nil {
		return true, err
	}
	return true, json.NewEncoder(os.Stdout).Encode(res)
}

// spawnLoad runs the load generator in the process cmd starts (this program
// again, which calls LoadGenMain); onStart runs once it is connected, just
// before it starts sending.
func spawnLoad(ctx context.Context, cmd *exec.Cmd, cfg loadConfig, onStart func()) (Result, error) {
	js, err := json.Marshal(cfg)
	if err != nil {
		return Result{}, err
	}
	cmd.Env = append(os.Environ(), LoadGenEnv+"="+string(js))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return Result{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return Result{}, err
	}
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("load generator: start: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	defer stop()
	res, rerr := talkToLoad(stdin, stdout, onStart)
	stdin.Close()
	werr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return Result{}, ctx.Err()
	case werr != nil:
		return Result{}, fmt.Errorf("load generator: %w: %s", werr, strings.TrimSpace(stderr.String()))
	case rerr != nil:
		return Result{}, fmt.Errorf("load generator: %w", rerr)
	}
	return res, nil
}

func talkToLoad(stdin io.Writer, stdout io.Reader, onStart func()) (Result, error) {
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	if err != nil {
		return Result{}, fmt.Errorf("waiting for ready: %w", err)
	}
	if line != "ready\n" {
		return Result{}, fmt.Errorf("want ready, got %q", line)
	}
	onStart()
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		return Result{}, err
	}
	var res Result
	if err := json.NewDecoder(out).Decode(&res); err != nil {
		return Result{}, fmt.Errorf("reading the result: %w", err)
	}
	return res, nil
}

// errNoCount is returned for a run without messages or rate.
var errNoCount = errors.New("pipeline: count and rate must be positive")

// pace is the load generator's default sending step: 10 readings per write
// at 50,000 msgs/s. Shorter steps cost the generator more CPU in wakeups
// (nanosleep of 100 µs took 136 µs and a third of a core on the reference
// machine) without changing what the pipeline sees.
const pace = 200 * time.Microsecond
