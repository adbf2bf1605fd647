#!/usr/bin/env python3
"""Opens COUNT keep-alive connections to 127.0.0.1:PORT (TLS with --tls), sends one
`GET PATH` on each, one connection at a time, reads the whole response, and then holds
every connection open and idle. Prints `held N` once all are idle, then waits until its
standard input closes (the benchmark measures the proxy's memory in between).

Usage: hold-connections.py PORT COUNT [PATH] [--tls]
"""
import socket
import ssl
import sys


def read_response(conn):
    """Reads one response with a Content-Length body; returns its status code."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the response body")
        body += chunk
    return int(lines[0].split()[1])


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    tls = "--tls" in sys.argv
    port, count = int(args[0]), int(args[1])
    path = args[2] if len(args) > 2 else "/small"
    context = None
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    held = []
    request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
    for _ in range(count):
        conn = socket.create_connection(("127.0.0.1", port), timeout=10)
        if context:
            conn = context.wrap_socket(conn, server_hostname="localhost")
        conn.sendall(request)
        status = read_response(conn)
        if status != 200:
            sys.exit(f"answered {status}")
        held.append(conn)
    print(f"held {len(held)}", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
