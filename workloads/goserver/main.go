// goserver is the Go workload of FlowMesh's Go runtime tracing: a server whose accept
// loop runs on a goroutine whose id it reports, and a client that reports the goroutine
// that dialled each connection, so that a test can hold the goroutine ids the Node
// attributes to connections against the ones the program itself saw.
//
//	goserver -listen ADDR:PORT [-accept-delay 50ms] [-spin]
//	goserver -client HOST:PORT -n N [-interval 10ms]
//
// Build with CGO_ENABLED=0: net then uses Go's own resolver, so the linker links
// internally, with no gcc, into a static binary whose symbols and DWARF are the Go
// toolchain's alone (an external link through gcc adds C units and libc).
//
// Only the standard library: it builds offline with the Debian Go (1.19) and no module
// download.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "", "serve HTTP/1.1 on ADDR:PORT")
	acceptDelay := flag.Duration("accept-delay", 0, "sleep this long before each Accept (connections wait in the accept queue)")
	spin := flag.Bool("spin", false, "each handler works about 1 ms on the CPU, yielding between slices, before it answers")
	client := flag.String("client", "", "connect to HOST:PORT, one new connection per request")
	n := flag.Int("n", 1, "client: connections to make, one after another")
	interval := flag.Duration("interval", 10*time.Millisecond, "client: pause between connections")
	flag.Parse()

	// systemd, Kubernetes and the tests stop workloads with SIGTERM; Ctrl-C is SIGINT.
	// Either is a normal end.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		os.Exit(0)
	}()

	switch {
	case *listen != "" && *client == "":
		spinOnSignal()
		serve(*listen, *acceptDelay, *spin)
	case *client != "" && *listen == "":
		if err := dialAll(*client, *n, *interval); err != nil {
			fail(err)
		}
	default:
		fmt.Fprintln(os.Stderr, "goserver: give exactly one of -listen ADDR:PORT or -client HOST:PORT")
		flag.Usage()
		os.Exit(2)
	}
}

// goroutineID is the id the runtime prints in a stack trace ("goroutine 7 [running]:"),
// the same number as runtime.g.goid, which the Node reads from the g register.
func goroutineID() int64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	if i := bytes.IndexByte(buf, ' '); i > 0 {
		if id, err := strconv.ParseInt(string(buf[:i]), 10, 64); err == nil {
			return id
		}
	}
	panic("goroutine id not found in runtime.Stack output: " + string(buf))
}

func emit(event map[string]interface{}) {
	line, err := json.Marshal(event)
	if err != nil {
		panic(err)
	}
	// os.Stdout is unbuffered: each line reaches a reading test as it is printed.
	os.Stdout.Write(append(line, '\n'))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "goserver:", err)
	os.Exit(1)
}

// serve keeps the accept loop on the main goroutine, the one it reports, so every
// accept the Node sees comes from that goroutine id.
// spinOnSignal: SIGUSR1 starts a goroutine that never blocks, SIGUSR2 stops it. With one P
// (GOMAXPROCS=1) every other goroutine then waits for the scheduler to preempt it (about
// every 10 ms): contention inside the Go runtime, which the goroutine scheduling probe sees.
func spinOnSignal() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		var stop chan struct{}
		for s := range signals {
			switch {
			case s == syscall.SIGUSR1 && stop == nil:
				stop = make(chan struct{})
				go func(stop chan struct{}) {
					for {
						select {
						case <-stop:
							return
						default:
						}
					}
				}(stop)
			case s == syscall.SIGUSR2 && stop != nil:
				close(stop)
				stop = nil
			}
		}
	}()
}

func serve(addr string, acceptDelay time.Duration, spin bool) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail(err)
	}
	emit(map[string]interface{}{
		"event":           "listening",
		"addr":            ln.Addr().String(),
		"acceptGoroutine": goroutineID(),
		"pid":             os.Getpid(),
	})
	for {
		if acceptDelay > 0 {
			time.Sleep(acceptDelay)
		}
		conn, err := ln.Accept()
		if err != nil {
			fail(err)
		}
		go handle(conn, spin)
	}
}

// handle answers HTTP/1.1 requests on one connection until the client closes it or
// asks to (Connection: close). Request bodies are read by Content-Length and dropped.
func handle(conn net.Conn, spin bool) {
	defer conn.Close()
	id := goroutineID()
	reader := textproto.NewReader(bufio.NewReader(conn))
	for {
		requestLine, err := reader.ReadLine()
		if err != nil {
			return // EOF between requests is the client's normal close
		}
		header, err := reader.ReadMIMEHeader()
		if err != nil {
			return
		}
		if length, err := strconv.ParseInt(header.Get("Content-Length"), 10, 64); err == nil && length > 0 {
			if _, err := io.CopyN(io.Discard, reader.R, length); err != nil {
				return
			}
		}
		keepAlive := wantsKeepAlive(requestLine, header.Get("Connection"))
		if spin {
			spinAWhile()
		}
		connection := "keep-alive"
		if !keepAlive {
			connection = "close"
		}
		body := "ok\n"
		response := fmt.Sprintf("HTTP/1.1 200 OK\r\nX-Goroutine: %d\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: %s\r\n\r\n%s",
			id, len(body), connection, body)
		if _, err := io.WriteString(conn, response); err != nil || !keepAlive {
			return
		}
	}
}

// wantsKeepAlive follows HTTP/1.1's default (persistent unless "close") and
// HTTP/1.0's (closed unless "keep-alive").
func wantsKeepAlive(requestLine, connection string) bool {
	connection = strings.ToLower(connection)
	if strings.HasSuffix(requestLine, "HTTP/1.0") {
		return strings.Contains(connection, "keep-alive")
	}
	return !strings.Contains(connection, "close")
}

// spinAWhile keeps the handler on the CPU for about a millisecond and yields between
// slices, so the goroutine goes runnable and running again many times (each one a
// runtime.casgstatus call) without ever sleeping.
func spinAWhile() {
	end := time.Now().Add(time.Millisecond)
	x := uint64(1)
	for time.Now().Before(end) {
		for i := 0; i < 10000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
		runtime.Gosched()
	}
	if x == 0 {
		fmt.Fprint(io.Discard, x) // keeps the loop from being optimised away
	}
}

// dialAll makes n connections one after another, each dialled on a new goroutine whose
// id it prints with the connection's local port and the server's handler goroutine.
func dialAll(addr string, n int, interval time.Duration) error {
	for i := 0; i < n; i++ {
		if i > 0 {
			time.Sleep(interval)
		}
		done := make(chan error, 1)
		go func() { done <- dialOnce(addr) }()
		if err := <-done; err != nil {
			return err
		}
	}
	return nil
}

func dialOnce(addr string) error {
	id := goroutineID()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	host, _, _ := net.SplitHostPort(addr)
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host); err != nil {
		return err
	}
	reader := textproto.NewReader(bufio.NewReader(conn))
	status, err := reader.ReadLine()
	if err != nil {
		return fmt.Errorf("reading the response from %s: %w", addr, err)
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		return fmt.Errorf("%s answered %q", addr, status)
	}
	header, err := reader.ReadMIMEHeader()
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, reader.R); err != nil {
		return err
	}
	event := map[string]interface{}{
		"event":     "connected",
		"goroutine": id,
		"localPort": conn.LocalAddr().(*net.TCPAddr).Port,
	}
	if server, err := strconv.ParseInt(header.Get("X-Goroutine"), 10, 64); err == nil {
		event["serverGoroutine"] = server
	}
	emit(event)
	return nil
}
