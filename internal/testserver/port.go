package testserver

import (
	"fmt"
	"net"
	"strconv"
)

// clusterBusOffset is the distance between a Redis Cluster node's client
// port and its cluster bus port.
const clusterBusOffset = 10000

// freePort returns a TCP port on 127.0.0.1 that nothing listens on right
// now. The kernel picks it; the listener is closed before returning, so
// another process may take it before the server binds it, which is why
// servers are started with retries.
//
// When busOffset is not zero the port+busOffset must be free as well (a
// Redis Cluster node also listens on its bus port).
func freePort(busOffset int) (int, error) {
	var lastErr error
	for range 20 {
		port, err := listenFree()
		if err != nil {
			return 0, err
		}
		if busOffset == 0 {
			return port, nil
		}
		if port+busOffset > 65535 {
			lastErr = fmt.Errorf("port %d: bus port %d out of range", port, port+busOffset)
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+busOffset)))
		if err != nil {
			lastErr = err
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free port pair with offset %d: %w", busOffset, lastErr)
}

func listenFree() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("listen on 127.0.0.1:0: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func loopbackAddr(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
