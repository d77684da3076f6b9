"""--metrics HOST:PORT: the server under test serves Prometheus metrics on
loopback inside its namespace; this proxy listens on HOST:PORT in the
harness's namespace and relays each connection there. The relaying thread
enters the server namespace (setns applies to the calling thread only), so
the sockets it opens live there while the listening socket stays here."""

import ctypes
import os
import socket
import threading

CLONE_NEWNET = 0x40000000


def _pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _serve(listener, ns_name, inner):
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = os.open(f"/run/netns/{ns_name}", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        return
    os.close(fd)
    host, port = inner.rsplit(":", 1)
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        try:
            upstream = socket.create_connection((host, int(port)), timeout=2)
        except OSError:
            client.sendall(b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\n"
                           b"no lrp server is running right now (kernel baseline or between "
                           b"configurations)\n")
            client.close()
            continue
        threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()


def start(address, ns_name, inner):
    host, port = address.rsplit(":", 1)
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, int(port)))
    listener.listen(16)
    threading.Thread(target=_serve, args=(listener, ns_name, inner), daemon=True).start()
    return listener
