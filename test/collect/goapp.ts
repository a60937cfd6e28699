/** A Go program serving net/http/pprof, built here with the system's `go` for the scrape tests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// CPU in kilnGoHot, allocations kept alive by kilnGoAlloc, lock contention in kilnGoLock and
// channel blocking in kilnGoBlock; mutex and block profiling on at every event.
const source = `package main

import (
	"fmt"
	"math"
	"net"
	"net/http"
	_ "net/http/pprof"
	"runtime"
	"sync"
	"time"
)

var sink [][]byte
var mu sync.Mutex

func kilnGoHot() float64 {
	x := 0.0
	for i := 0; i < 2000000; i++ {
		x += math.Sqrt(float64(i))
	}
	return x
}

func kilnGoAlloc() {
	sink = append(sink, make([]byte, 64<<10))
	if len(sink) > 400 {
		sink = sink[200:]
	}
}

func kilnGoLock() {
	mu.Lock()
	time.Sleep(time.Millisecond)
	mu.Unlock()
}

func kilnGoBlock(c chan int) { <-c }

func main() {
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Printf("listening on http://%s\\n", ln.Addr())
	go func() {
		for {
			kilnGoHot()
			kilnGoAlloc()
		}
	}()
	for i := 0; i < 2; i++ {
		go func() {
			for {
				kilnGoLock()
			}
		}()
	}
	c := make(chan int)
	go func() {
		for {
			time.Sleep(2 * time.Millisecond)
			c <- 1
		}
	}()
	go func() {
		for {
			kilnGoBlock(c)
		}
	}()
	panic(http.Serve(ln, nil))
}
`

/** Builds the program; null (with the reason) when this machine has no Go toolchain. */
export function buildGoApp(): { binary: string } | { skip: string } {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' })
  if (go.error || go.status !== 0) return { skip: 'no `go` on this machine: install Debian golang-go' }
  const dir = mkdtempSync(join(tmpdir(), 'kiln-goapp-'))
  writeFileSync(join(dir, 'main.go'), source)
  const binary = join(dir, 'goapp')
  const r = spawnSync('go', ['build', '-o', binary, 'main.go'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, GO111MODULE: 'off', GOCACHE: join(tmpdir(), 'kiln-go-cache') },
  })
  if (r.status !== 0) throw new Error(`go build failed:\n${r.stderr}`)
  return { binary }
}

/** Starts a program that prints `listening on URL` and resolves with the URL. */
export async function startListening(
  cmd: string,
  args: string[],
  opts: { cwd?: string } = {},
): Promise<{ url: string; proc: ChildProcess; stop(): Promise<void> }> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd })
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start in 30 s:\n${out}`)), 30_000)
    const check = (d: Buffer) => {
      out += d
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    }
    proc.stdout!.on('data', check)
    proc.stderr!.on('data', check)
    proc.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${cmd} exited with ${code}:\n${out}`))
    })
  })
  return {
    url,
    proc,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      const exited = new Promise((r) => proc.once('exit', r))
      proc.kill('SIGKILL')
      await exited
    },
  }
}
